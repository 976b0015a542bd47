"""Course bots (Telegram, Discord): thin clients of the tutor's HTTP API."""
