"""Portal templates escape what they output exactly as Jinja's own autoescape does: the
environment compiles `{{ value }}` to a cheaper call, and a page must not change by a byte."""

from __future__ import annotations

import pytest
from jinja2 import Environment
from markupsafe import Markup

from arportal.templating import PortalEnvironment

TEMPLATE = (
    "<a href=\"{{ url }}\" title='{{ title }}'>{{ text }}</a>|{{ safe }}|{{ number }}|{{ none }}"
    "|{{ items }}|{% set block %}<b>{{ text }}</b>{% endset %}{{ block }}"
    "|{% macro cell(v) %}<td>{{ v }}</td>{% endmacro %}{{ cell(text) }}"
    "|{% filter upper %}{{ text }}{% endfilter %}|{{ text ~ safe }}"
)
HOSTILE = {
    "url": "javascript:alert(1)\"><script>alert('x')</script>",
    "title": "O'Brien & <Sons>",
    "text": "<img src=x onerror=alert(1)> & \"quotes\" 'single'",
    "safe": Markup("<em>already safe</em>"),
    "number": 12345,
    "none": None,
    "items": ["<li>", 3],
}


@pytest.mark.parametrize("autoescape", [True, False])
def test_output_is_escaped_exactly_as_jinja_does(autoescape: bool) -> None:
    ours = PortalEnvironment(autoescape=autoescape).from_string(TEMPLATE).render(**HOSTILE)
    stock = Environment(autoescape=autoescape)  # noqa: S701 - both modes compared on purpose
    stock_page = stock.from_string(TEMPLATE).render(**HOSTILE)
    assert ours == stock_page
    if autoescape:
        assert "<script>" not in ours and "<img" not in ours
        assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;quotes&#34; &#39;single&#39;" in ours
        assert "<em>already safe</em>" in ours
