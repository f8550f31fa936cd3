"""``quote_path`` skips ``urllib.parse.quote`` only where quoting would change nothing."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from davfiles.provider.resources import _HREF_SAFE, quote_path

# Names as clients send them: plain ASCII most of the time, with anything else mixed in.
_NAMES = st.text(alphabet=st.sampled_from("aZ09_.-~/ %?#&+=()!*'$|,;:@\\\"<>é日\x01\U0001f600"))


@given(_NAMES | st.text())
def test_the_same_as_quote(text: str) -> None:
    for safe in ("/", _HREF_SAFE):
        assert quote_path(text, safe) == quote(text, safe=safe)


def test_plain_text_comes_back_as_it_is() -> None:
    plain = "/alice/Documents/report-2026_v1.0~draft.txt"
    assert quote_path(plain) is plain
