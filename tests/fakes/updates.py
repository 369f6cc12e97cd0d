"""Builders of raw Telegram updates, as the Bot API sends them."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


def next_update_id() -> int:
    return next(_ids)


def tg_user(user_id: int, lang: str = "en", first_name: str = "Ann") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": lang}


def message(user_id: int, text: str, lang: str = "en", **extra: Any) -> dict[str, Any]:
    update_id = next_update_id()
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private"},
            "from": tg_user(user_id, lang),
            "text": text,
            **extra,
        },
    }


def photo_message(user_id: int, lang: str = "en") -> dict[str, Any]:
    update = message(user_id, "", lang)
    del update["message"]["text"]
    update["message"]["photo"] = [
        {"file_id": "photo-1", "file_unique_id": "u1", "width": 90, "height": 90}
    ]
    return update


def callback(user_id: int, data: str, message_id: int = 1, lang: str = "en") -> dict[str, Any]:
    update_id = next_update_id()
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq{update_id}",
            "from": tg_user(user_id, lang),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": 1_700_000_000,
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": 4242, "is_bot": True, "first_name": "Kie"},
                "text": "menu",
            },
        },
    }


def pre_checkout(
    user_id: int, payload: str, total_amount: int, currency: str = "XTR", lang: str = "en"
) -> dict[str, Any]:
    update_id = next_update_id()
    return {
        "update_id": update_id,
        "pre_checkout_query": {
            "id": f"pcq{update_id}",
            "from": tg_user(user_id, lang),
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        },
    }


def successful_payment(
    user_id: int,
    payload: str,
    total_amount: int,
    charge_id: str,
    currency: str = "XTR",
    lang: str = "en",
) -> dict[str, Any]:
    update = message(user_id, "", lang)
    del update["message"]["text"]
    update["message"]["successful_payment"] = {
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": "",
    }
    return update
