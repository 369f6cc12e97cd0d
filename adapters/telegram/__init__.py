"""Telegram through aiogram 3: handlers, keyboards, texts and the ChatPort sender."""
