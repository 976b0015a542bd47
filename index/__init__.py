"""Retrieval over the course materials: loaders, chunking, BM25 + FAISS hybrid index."""
