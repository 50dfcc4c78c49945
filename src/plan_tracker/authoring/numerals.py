"""Chinese and Arabic numerals as they appear in report numbering and dates (1–99)."""

from __future__ import annotations

CN_DIGITS = "〇零一二三四五六七八九十两"
_VALUES = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def to_int(token: str) -> int:
    """'3', '３', '十二', '二十一', '⑤' -> int; -1 when the token is not a numeral."""
    if token.isdecimal():  # also full-width digits, which int() understands
        return int(token)
    if len(token) == 1 and token in _CIRCLED:
        return _CIRCLED.index(token) + 1
    if not token or any(ch not in CN_DIGITS for ch in token):
        return -1
    if "十" not in token:
        return _VALUES[token] if len(token) == 1 else -1
    tens, _, units = token.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return -1
    return (_VALUES[tens] if tens else 1) * 10 + (_VALUES[units] if units else 0)
