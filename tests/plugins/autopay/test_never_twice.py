"""Never twice. Two charge runs at once (in one process, in two processes, and two
`arportal jobs run`) charge each invoice once; a process that dies after the gateway charged
but before the payment was recorded is reconciled by the next run with the same idempotency
key: one charge at the gateway, one payment in the ledger."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from arportal import hookimpl, record_payments
from arportal.plugins.autopay import charging, store
from arportal.plugins.autopay import plugin as autopay_plugin
from arportal.plugins.autopay.gateways.sandbox import SandboxGateway
from tests.conftest import SECRET, make_tenant, running_app
from tests.plugins.autopay.conftest import (
    add_invoice,
    api,
    attempts,
    customer_with_card,
    enable,
    invoice,
    mails,
    payments,
    run_job,
    sandbox_charges,
    tenant_ctx,
)

WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).resolve().parents[3]


class Gateways:
    """The test gateways of the worker processes, for the in-process side of a test."""

    def __init__(self, *gateways: Any):
        self.gateways = list(gateways)

    @hookimpl
    def arportal_payment_gateways(self) -> list[Any]:
        return self.gateways


async def seed(app: Any, tenant: Any, today: Any, customers: int, invoices: int,
               gateway: str = "sandbox") -> list[str]:
    await enable(app, tenant, notice_days=0, gateway=gateway, max_in_flight=4)
    ids = []
    for number in range(customers):
        await customer_with_card(app, tenant, f"C{number}")
        for index in range(invoices):
            ids.append(f"I-{number}-{index}")
            await add_invoice(app, tenant, ids[-1], today, "10.00", customer=f"C{number}")
    return ids


async def assert_charged_once(app: Any, tenant: Any, ids: list[str]) -> None:
    rows = await attempts()
    assert sorted(r["invoice_ext"] for r in rows) == sorted(ids)
    charges = await sandbox_charges()
    assert len(charges) == len(ids) and {c["requests"] for c in charges} == {1}
    assert len(await payments(app, tenant)) == len(ids)
    for external_id in ids:
        assert (await invoice(app, tenant, external_id))["status"] == "paid"


async def test_two_runs_at_once_in_one_process(make_config: Any, today: Any) -> None:
    slow = SandboxGateway(name="slow", latency=0.02)
    plugins = [("autopay", autopay_plugin), ("slow", Gateways(slow))]
    async with running_app(make_config(), plugins) as app:
        tenant = await make_tenant()
        ids = await seed(app, tenant, today, customers=3, invoices=4, gateway="slow")
        first, second = await tenant_ctx(app, tenant), await tenant_ctx(app, tenant)
        reports = await asyncio.gather(charging.run_autopay(first), charging.run_autopay(second))
        assert sum(r["charged"] for r in reports) == len(ids)
        await assert_charged_once(app, tenant, ids)


def _config_file(app: Any, folder: Path) -> Path:
    path = folder / "arportal.toml"
    path.write_text(
        f'database = "{app.config.database}"\nsecret_key = "{SECRET}"\n'
        f'base_url = "http://testserver"\nfiles_dir = "{folder / "files"}"\nrun_jobs = false\n'
        '\n[plugins]\nenabled = ["autopay"]\n'
    )
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


async def _wait(processes: list[subprocess.Popen[bytes]], timeout: float = 120) -> list[str]:
    outputs = []
    for process in processes:
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if process.poll() is None:
            process.kill()
        out, err = process.communicate()
        outputs.append(out.decode() + err.decode())
    return outputs


async def test_two_processes_racing_for_the_same_invoices(make_config: Any, today: Any,
                                                          tmp_path: Path) -> None:
    """Both processes skip the job lease (they call the charge routine directly) and see the
    same due invoices: the unique (invoice, attempt_no) claim decides who charges each."""
    plugins = [("autopay", autopay_plugin), ("slow", Gateways(SandboxGateway(name="slow")))]
    async with running_app(make_config(), plugins) as app:
        tenant = await make_tenant()
        ids = await seed(app, tenant, today, customers=4, invoices=5, gateway="slow")
        config = _config_file(app, tmp_path)
        go = tmp_path / "go"
        processes = [
            subprocess.Popen(
                [sys.executable, str(WORKER), str(config), "slow", str(tmp_path / f"ready{n}"),
                 str(go)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=tmp_path,
            )
            for n in range(2)
        ]
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready{n}").exists() for n in range(2)):
            assert time.monotonic() < deadline, "the workers did not start"
            await asyncio.sleep(0.05)
        go.write_text("go")
        outputs = await _wait(processes)
        reports = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
        assert sum(r["charged"] for r in reports) == len(ids), outputs
        await assert_charged_once(app, tenant, ids)


async def test_two_arportal_jobs_run_at_once(app: Any, tenant: Any, today: Any,
                                             tmp_path: Path) -> None:
    ids = await seed(app, tenant, today, customers=3, invoices=5)
    config = _config_file(app, tmp_path)
    command = [sys.executable, "-m", "arportal", "--config", str(config), "jobs", "run",
               "--force", "--only", "autopay.charge", "--json"]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                         cwd=tmp_path)
        for _ in range(2)
    ]
    outputs = await _wait(processes)
    assert all(p.returncode == 0 for p in processes), outputs
    await assert_charged_once(app, tenant, ids)


async def test_a_crash_between_charge_and_record_is_reconciled(
    app: Any, tenant: Any, today: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(app, tenant, today, customers=1, invoices=1)

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(charging, "record_payments", crash)
    report = await run_job(app)
    assert (report["charged"], report["succeeded"], report["errors"]) == (1, 0, 1)
    monkeypatch.setattr(charging, "record_payments", record_payments)
    (charge,) = await sandbox_charges()
    (attempt,) = await attempts()
    assert attempt["status"] == "pending" and await payments(app, tenant) == []

    assert (await run_job(app))["charged"] == 0  # the lease still holds it: no second call
    assert (await sandbox_charges())[0]["requests"] == 1

    clock.advance(minutes=11)
    report = await run_job(app)
    assert (report["reconciled"], report["succeeded"], report["charged"]) == (1, 1, 0)
    (again,) = await sandbox_charges()
    assert (again["charge_id"], again["requests"]) == (charge["charge_id"], 2)
    (payment,) = await payments(app, tenant)
    assert payment["external_id"] == f"autopay-{charge['charge_id']}"
    assert (await invoice(app, tenant, "I-0-0"))["status"] == "paid"
    assert len([m for m in await mails() if m["subject"].startswith("Receipt")]) == 1
    clock.advance(minutes=30)
    assert (await run_job(app))["reconciled"] == 0


async def test_a_crash_after_recording_never_records_twice(
    app: Any, tenant: Any, today: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(app, tenant, today, customers=1, invoices=1)
    real = store.finish_attempt

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process died after the ledger write")

    monkeypatch.setattr(store, "finish_attempt", crash)
    await run_job(app)
    monkeypatch.setattr(store, "finish_attempt", real)
    assert len(await payments(app, tenant)) == 1
    clock.advance(minutes=11)
    assert (await run_job(app))["succeeded"] == 1
    (payment,) = await payments(app, tenant)
    assert payment["allocations"] == [{"invoice_external_id": "I-0-0", "amount": "10.00"}]
    paid = await invoice(app, tenant, "I-0-0")
    assert (paid["status"], paid["amount_due"]) == ("paid", "0.00")


async def test_a_killed_process_is_reconciled_by_the_next_run(
    make_config: Any, today: Any, clock: Any, tmp_path: Path
) -> None:
    """A real SIGKILL right after the gateway charged, then the next run, in this process."""
    killer = SandboxGateway(name="killer")
    plugins = [("autopay", autopay_plugin), ("killer", Gateways(killer))]
    async with running_app(make_config(), plugins) as app:
        tenant = await make_tenant()
        await seed(app, tenant, today, customers=1, invoices=1, gateway="killer")
        config = _config_file(app, tmp_path)
        process = subprocess.Popen([sys.executable, str(WORKER), str(config), "kill"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=_env(), cwd=tmp_path)
        output = (await _wait([process]))[0]
        assert process.returncode == -9, output
        (attempt,) = await attempts()
        (charge,) = await sandbox_charges()
        assert attempt["status"] == "pending" and await payments(app, tenant) == []

        clock.advance(minutes=11)
        report = await run_job(app)
        assert (report["reconciled"], report["succeeded"]) == (1, 1)
        (again,) = await sandbox_charges()
        assert (again["charge_id"], again["requests"]) == (charge["charge_id"], 2)
        assert len(await payments(app, tenant)) == 1
        assert (await invoice(app, tenant, "I-0-0"))["status"] == "paid"
        listed = await api(app, tenant, "GET", "/autopay/attempts")
        assert [item["status"] for item in listed["items"]] == ["succeeded"]
