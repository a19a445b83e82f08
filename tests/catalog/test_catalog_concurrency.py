"""Concurrent writers (processes and threads) never corrupt files nor lose secrets."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlpipe_lab.catalog import MASK, Conflict, RuntimeConfigs, RuntimeImages

try:
    import catalog_fixtures as fx
except ImportError:  # tests/ turned into a package
    from tests import catalog_fixtures as fx

PROCESSES = 4
WRITES = 50


@pytest.fixture
def data_dir(tmp_path: Path):
    """A data dir on tmpfs when there is one: these tests are about locking and atomic replaces,
    not durability, and fsync on a busy disk (~4 ms each, five per write) would dominate."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        root = Path(tempfile.mkdtemp(prefix="mlpipe-catalog-", dir=shm))
        try:
            yield root / "data"
        finally:
            shutil.rmtree(root, ignore_errors=True)
    else:
        yield tmp_path / "data"


def every_file_parses(data_dir: Path) -> None:
    for path in fx.files_under(data_dir):
        if path.name == ".lock":
            continue
        assert isinstance(json.loads(path.read_text()), dict), path
    assert fx.leftover_temp_files(data_dir) == []


def mp_context():
    """fork where available (children inherit the imported modules: jsonschema alone takes over a
    second to import here), spawn elsewhere. Either way each worker is a separate process with its
    own file descriptors, which is what the flock-based locking has to cope with."""
    RuntimeConfigs("/nonexistent", include_elyra=False).validate(
        fx.airflow_config()
    )  # warm imports
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_processes(target, args_list) -> list:
    with mp_context().Pool(len(args_list)) as pool:
        results = [pool.apply_async(target, args) for args in args_list]
        return [r.get(timeout=300) for r in results]


def seed_shared(data_dir: Path) -> RuntimeConfigs:
    catalog = RuntimeConfigs(data_dir, include_elyra=False)
    catalog.create(fx.airflow_config("shared", description="initial"))
    return catalog


def check_shared(catalog: RuntimeConfigs, writers: int, writes: int) -> None:
    final = catalog.get_with_secrets("shared")
    worker, n = final["description"].split("-")
    assert int(n) == writes - 1 and 0 <= int(worker) < writers  # some writer's last write won
    assert final["object_storage"]["auth"]["secret_access_key"] == f"s3-{final['description']}"
    assert final["dag_repo"]["auth"]["token"] == fx.TOKEN_CANARY
    assert final["airflow"]["auth"]["password"] == fx.PASSWORD_CANARY


def test_processes_update_own_entries(data_dir):
    run_processes(fx.worker_update_own, [(str(data_dir), i, WRITES) for i in range(PROCESSES)])
    catalog = RuntimeConfigs(data_dir, include_elyra=False)
    for i in range(PROCESSES):
        entry = catalog.get_with_secrets(f"w{i}")
        assert entry["description"] == str(WRITES - 1)
        assert entry["dag_repo"]["auth"]["token"] == f"tok-{i}-{WRITES - 1}"
        assert entry["airflow"]["auth"]["password"] == fx.PASSWORD_CANARY
        assert entry["object_storage"]["auth"]["secret_access_key"] == fx.S3_SECRET_CANARY
    assert sorted(e["name"] for e in catalog.list()) == ["local"] + [
        f"w{i}" for i in range(PROCESSES)
    ]
    every_file_parses(data_dir)


def test_processes_update_the_same_entry_while_others_read(data_dir):
    catalog = seed_shared(data_dir)
    jobs = [(fx.worker_update_shared, (str(data_dir), i, WRITES)) for i in range(PROCESSES)]
    with mp_context().Pool(PROCESSES + 2) as pool:
        readers = [pool.apply_async(fx.worker_reader, (str(data_dir), 150)) for _ in range(2)]
        writers = [pool.apply_async(target, args) for target, args in jobs]
        for result in writers:
            result.get(timeout=300)
        assert [r.get(timeout=300) for r in readers] == [150, 150]
    check_shared(catalog, PROCESSES, WRITES)
    every_file_parses(data_dir)


def test_processes_mixed_image_writes(data_dir):
    run_processes(fx.worker_images, [(str(data_dir), i, WRITES) for i in range(PROCESSES)])
    catalog = RuntimeImages(data_dir, include_elyra=False)
    names = sorted(e["name"] for e in catalog.list())
    assert names == sorted([f"img-{i}" for i in range(PROCESSES)] + ["img-shared"])
    for i in range(PROCESSES):
        assert catalog.get(f"img-{i}")["description"] == str(WRITES - 1)
    assert catalog.get("img-shared")["description"].endswith(f"-{WRITES - 1}")
    every_file_parses(data_dir)


def test_threads_update_same_and_different_entries(data_dir):
    catalog = seed_shared(data_dir)
    threads, writes = 8, 25
    errors: list[BaseException] = []

    def own(i: int) -> None:
        fx.worker_update_own(str(data_dir), 100 + i, writes)

    def shared(i: int) -> None:
        fx.worker_update_shared(str(data_dir), i, writes)

    def read() -> None:
        fx.worker_reader(str(data_dir), 60)

    with ThreadPoolExecutor(threads * 2 + 2) as pool:
        futures = [pool.submit(shared, i) for i in range(threads)]
        futures += [pool.submit(own, i) for i in range(threads)]
        futures += [pool.submit(read) for _ in range(2)]
        for future in futures:
            if future.exception():
                errors.append(future.exception())
    assert errors == []
    check_shared(catalog, threads, writes)
    for i in range(threads):
        entry = catalog.get_with_secrets(f"w{100 + i}")
        assert entry["dag_repo"]["auth"]["token"] == f"tok-{100 + i}-{writes - 1}"
        assert entry["airflow"]["auth"]["password"] == fx.PASSWORD_CANARY
    every_file_parses(data_dir)


def test_racing_creates_of_one_name(data_dir):
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def create(i: int) -> None:
        catalog = RuntimeImages(data_dir, include_elyra=False)
        barrier.wait()
        try:
            catalog.create(fx.image("racy", description=str(i)))
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(8)))
    assert sorted(outcomes) == ["conflict"] * 7 + ["created"]
    every_file_parses(data_dir)


def test_racing_updates_keep_masked_secret(data_dir):
    """Writers that send MASK while another replaces the secret: the secret is never lost."""
    catalog = RuntimeConfigs(data_dir, include_elyra=False)
    catalog.create(fx.airflow_config("s"))

    def touch(i: int) -> None:
        entry = catalog.get("s")
        entry.pop("source"), entry.pop("read_only")
        entry["description"] = str(i)
        if i % 10 == 0:
            entry["dag_repo"]["auth"]["token"] = f"rotated-{i}"
        else:
            assert entry["dag_repo"]["auth"]["token"] == MASK
        catalog.update("s", entry)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(touch, range(80)))
    token = catalog.get_with_secrets("s")["dag_repo"]["auth"]["token"]
    assert token.startswith("rotated-")
    every_file_parses(data_dir)
