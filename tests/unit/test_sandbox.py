"""The sandbox under prompt rendering: escapes refused, blow-ups stopped, deadlines and output limits kept."""

from __future__ import annotations

import time
from typing import Any

import pytest

from rippleops.domain import sandbox
from rippleops.domain.templating import MAX_INT_ARG, infer_variables, normalize_variables, render
from rippleops.errors import InvalidError, PayloadTooLargeError


def text(template: str, **values: Any) -> Any:
    return render("text", template=template, values=values)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ self.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{% include '/etc/passwd' %}",
        "{% extends '../../etc/passwd' %}",
        "{% import '/etc/hosts' as h %}",
        "{{ ().__class__.__bases__[0].__subclasses__() }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ '{0.__class__.__base__}'.format('') }}",
        "{{ ''|attr('__class__') }}",
        "{{ [1]|map(attribute='__class__')|first }}",
        "{{ dict.mro() }}",
        "{{ range.__globals__ }}",
    ],
)
def test_escape_attempts_are_refused_without_revealing_internals(template: str) -> None:
    names = infer_variables("text", template, None)
    with pytest.raises(InvalidError) as err:
        render("text", template=template, values={n: "" for n in names}, variables=normalize_variables(list(names)))
    message = err.value.message
    for leak in ("<function", "<class", "<module", "__builtins__", "environ", "root:"):
        assert leak not in message


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 10**9 }}",
        "{{ [[1]] * 100000 * 100000 }}",
        "{{ 2 ** 100000000 }}",
        "{{ 'x'.center(10**9) }}",
        "{{ 'x'.zfill(10**9) }}",
        "{{ 'x'|center(10**9) }}",
        "{{ ('a\n' * 100000)|indent(100000) }}",
        "{{ ('\t' * 100000).expandtabs(100000) }}",
        "{{ ('a' * 1000).replace('a', 'b' * 10000) }}",
        "{{ ('a' * 1000)|replace('a', 'b' * 10000) }}",
        "{{ 'x'|wordwrap(10**9) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '{:{}}'.format(1, 999999999) }}",
        "{{ '%999999999d'|format(1) }}",
        "{{ '%*d' % (999999999, 1) }}",
        "{{ [1]|batch(10**9, 'x')|list }}",
        "{{ [1]|slice(10**9, 'x')|list }}",
        "{% for i in range(10**9) %}{% endfor %}",
        "{{ range(100000)|map('string')|join(' ' * 100000) }}",
        "{{ ([[1]] * 100000)|sum(start=[]) }}",
        "{{ dict.fromkeys(range(100000), 'x' * 1000) }}",
        "{% set ns = namespace(s='a') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}",
        "{% set ns = namespace(s='a' * 1000) %}{% for i in range(64) %}"
        "{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}{% endfor %}",
        "{% macro grow(s, n) %}{{ grow(s ~ s, n - 1) if n else s }}{% endmacro %}{{ grow('a', 64) }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    ],
)
def test_blow_up_attempts_are_refused_quickly(template: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidError):
        render("text", template=template, max_seconds=0.5)
    assert time.monotonic() - started < 3  # a guard against hangs, not a timing test


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set s = 'a' * 100000 %}{% for c in s %}{% for d in s %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
    ],
)
def test_long_renders_stop_at_the_deadline(template: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidError, match=r"render took longer than 0.2 s"):
        render("text", template=template, max_seconds=0.2)
    assert time.monotonic() - started < 3
    assert text("{{ 1 }}") == "1"  # the deadline belongs to that one render


def test_recursion_is_reported_as_invalid() -> None:
    with pytest.raises(InvalidError, match="recursed too deeply"):
        render("text", template="{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")


def test_output_over_the_limit_is_refused() -> None:
    with pytest.raises(PayloadTooLargeError, match="over the output limit of 100 characters"):
        render("text", template="{% for i in range(20) %}0123456789{% endfor %}", max_output_chars=100)
    with pytest.raises(PayloadTooLargeError):
        render("text", template="{{ 'x' * 101 }}", max_output_chars=100)
    with pytest.raises(PayloadTooLargeError, match="message 1"):
        render(
            "chat",
            messages=[{"role": "system", "content": "x" * 60}, {"role": "user", "content": "y" * 60}],
            max_output_chars=100,
        )
    with pytest.raises(PayloadTooLargeError):
        text("{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}")
    assert len(render("text", template="{{ 'x' * 100 }}", max_output_chars=100)) == 100


def test_ordinary_templates_still_work_under_the_guards() -> None:
    template = (
        "{{ '-' * 3 }}|{{ '{:>4}'.format(n) }}|{{ '%03d'|format(n) }}|{{ 'ab'|center(6) }}|"
        "{{ (range(3)|list + [9])|join(',') }}|{{ [1, 2]|sum }}|{{ {'a': 1}|tojson }}|{{ 'x' ~ n ~ 'y' }}|"
        "{% set ns = namespace(total=0) %}{% for i in items %}{% set ns.total = ns.total + i %}{% endfor %}"
        "{{ ns.total }}|{% for i in items %}{{ loop.index }}/{{ loop.length }} {% endfor %}|"
        "{{ big * 2 }}|{{ '%s=%s' % ('a', 1) }}|{{ items|map('string')|join('+') }}"
    )
    out = text(template, n=7, items=[1, 2, 3], big=10**12)
    assert out == ('---|   7|007|  ab  |0,1,2,9|3|{"a": 1}|x7y|6|1/3 2/3 3/3 |2000000000000|a=1|1+2+3')
    assert MAX_INT_ARG == 100_000


def test_limits_hold_inside_their_block_only() -> None:
    with sandbox.render_limits(max_seconds=1.0, max_output_chars=10):
        assert sandbox.run("", "{{ 'x' * n }}", (), {"n": 10}, 0) == "x" * 10
        with pytest.raises(PayloadTooLargeError, match=r"message 2: .*limit of 10 characters"):
            sandbox.run("message 2: ", "{{ 'x' * n }}", (), {"n": 11}, 0)
        with pytest.raises(PayloadTooLargeError, match="rendered output"):
            sandbox.run("", "12345", (), {}, 6)  # 6 characters already spent by earlier messages
    assert sandbox.run("", "{{ 'x' * n }}", (), {"n": 11}, 0) == "x" * 11
