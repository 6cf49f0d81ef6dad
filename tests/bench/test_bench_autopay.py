"""The autopay benchmark at a tiny size: it charges every invoice once and reports it.
Nothing here asserts a timing: the figures live in docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

from bench import autopay


async def test_the_autopay_bench_charges_each_invoice_once(tmp_path: Path) -> None:
    result = await autopay.run_once("sqlite", 30, 6, 0.001, 4, tmp_path, "", print)
    assert (result.charged, result.paid, result.once) == (30, 30, True)
    text = autopay.section([result], "0.1, 0.1, 0.1", "not run")
    assert "| sqlite | 30 | 1 ms | 4 |" in text and "| 30 / 30 | yes | n/a |" in text
