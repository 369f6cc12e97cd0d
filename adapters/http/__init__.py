"""The HTTP surface: Telegram webhook ingest, /health, /metrics (Litestar, no aiogram import)."""
