"""plan_sends: which result files share a media group (2–10 items, compatible kinds)."""

from __future__ import annotations

from adapters.telegram.outgoing import PHOTO_MAX_BYTES, kind_of, plan_sends

PNG = ("a.png", b"png", "image/png")
MP4 = ("a.mp4", b"mp4", "video/mp4")
MP3 = ("a.mp3", b"mp3", "audio/mpeg")


def test_photos_and_videos_share_groups_of_at_most_ten() -> None:
    groups = plan_sends([PNG, MP4] * 6)
    assert [len(g) for g in groups] == [10, 2]
    assert {i.kind for i in groups[0]} == {"photo", "video"}


def test_audio_never_groups_with_photos_and_one_file_is_a_single_send() -> None:
    assert [len(g) for g in plan_sends([PNG, MP3])] == [1, 1]
    assert [len(g) for g in plan_sends([MP3, MP3])] == [2]
    assert [len(g) for g in plan_sends([PNG])] == [1]


def test_a_big_image_or_a_gif_is_a_document() -> None:
    assert kind_of("image/png", PHOTO_MAX_BYTES + 1) == "document"
    assert kind_of("image/gif", 10) == "document"
    assert kind_of("image/jpeg", 10) == "photo"
