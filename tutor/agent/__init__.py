"""The tutor agent: routing, grounded answers, experiment requests (graph, state, tools, prompts)."""
