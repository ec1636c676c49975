"""The text rendering of a reply (channels.text_rendering): split text, numbered choices, and
what stands in for a toast, a link, a file's caption."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from channels.local import CAPABILITIES
from channels.text_rendering import render, render_reply, split_text
from core.conversation import Reply, TypedAnswers

WORD = st.text(alphabet="abcdeđưỡABC0123.,…", min_size=1, max_size=12)
LINE = st.lists(WORD, max_size=40).map(" ".join)
TEXT = st.lists(LINE, min_size=1, max_size=30).map("\n".join)


def words(text: str) -> list[str]:
    return text.split()


@given(TEXT, st.integers(min_value=12, max_value=300))
def test_split_text_keeps_every_word_in_order_and_cuts_no_word(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(0 < len(part) <= limit for part in parts)
    assert [w for part in parts for w in words(part)] == words(text)  # none lost, none cut


@given(TEXT, st.integers(min_value=12, max_value=300))
def test_split_text_cuts_between_lines_when_the_lines_fit(text: str, limit: int) -> None:
    short = "\n".join(line[:limit].strip() for line in text.split("\n"))
    parts = split_text(short, limit)
    kept = [line for part in parts for line in part.split("\n")]
    assert [line for line in kept if line] == [line for line in short.split("\n") if line]


def test_a_long_line_is_cut_between_words_and_a_short_text_is_one_part() -> None:
    line = " ".join(f"từ{n}" for n in range(100))
    parts = split_text(f"Tiêu đề\n{line}\nCuối", 50)
    assert parts[0] == "Tiêu đề" and parts[1].startswith("từ0 từ1 ")
    assert parts[-1].endswith("từ99\nCuối")
    assert all(len(part) <= 50 for part in parts)
    assert split_text("một\n\nhai", 2000) == ["một\n\nhai"]
    assert split_text("", 2000) == []


def test_choices_are_numbered_row_by_row_and_kept_as_their_data() -> None:
    reply = Reply(
        "Chọn mục:", choices=[[("PAR 1.5", "C:1:0")], [("◀ Trước", "L:0"), ("Sau ▶", "L:2")]]
    )
    rendered = render_reply(reply, CAPABILITIES)
    assert rendered.messages == ("Chọn mục:\n\n1. PAR 1.5\n2. ◀ Trước\n3. Sau ▶",)
    assert rendered.shown is not None and rendered.shown.options == ("C:1:0", "L:0", "L:2")


def test_a_card_shows_its_hint_not_a_list_and_a_toast_and_link_are_lines() -> None:
    typed = TypedAnswers("Gõ 0–100.", "P:1:{n}:0", (0, 100), "0–100!", (("xong", "D:1:0"),))
    reply = Reply(
        "Thẻ",
        choices=[[("50%", "P:1:50:0")]],
        typed=typed,
        alert="Đã ghi",
        link=("Web", "https://x"),
    )
    rendered = render_reply(reply, CAPABILITIES)
    assert rendered.messages == ("Đã ghi\n\nThẻ\n\nWeb: https://x\n\nGõ 0–100.",)
    assert rendered.shown is not None and rendered.shown.typed == typed
    stale = render_reply(Reply("", alert="Nút này đã cũ."), CAPABILITIES)
    assert stale.messages == ("Nút này đã cũ.",) and stale.shown is None
    said_once = render_reply(Reply("Không được phép.", alert="Không được phép."), CAPABILITIES)
    assert said_once.messages == ("Không được phép.",)


def test_a_file_takes_the_text_as_caption_when_it_fits() -> None:
    fits = render("Báo cáo", CAPABILITIES, file=("a.xlsx", b"x"))
    assert fits.caption == "Báo cáo" and fits.messages == ()
    small = replace(CAPABILITIES, max_caption=5)
    long = render("Báo cáo tuần", small, file=("a.xlsx", b"x"))
    assert long.caption is None and long.messages == ("Báo cáo tuần",)
