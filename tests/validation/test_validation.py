"""deploy.validation: results independent of executor and worker count, checked against independent paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deploy.datasets import ArrayDataset, digits_dataset
from deploy.errors import DatasetError
from deploy.validation import ExecutorError, ExecutorSpec, Gates, validate
from deploy.validation.executors import run_jobs

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "digits_snn" / "model.pt"
N = 6


@pytest.fixture(scope="module")
def digits() -> ArrayDataset:
    return digits_dataset("test", limit=N)


@pytest.fixture(scope="module")
def sequential(digits: ArrayDataset):
    return validate(MODEL, digits, parallel=ExecutorSpec(workers=1))


def test_simulated_and_quantised_views_match_an_independent_loop(digits: ArrayDataset, sequential) -> None:
    # The loop scripts/accuracy_table.py ran before it called validate: simulate_batch on the compiled
    # configuration, the exit core's spikes, models.training.predict; the time-stepped quantised graph on
    # models.digits_events.rasterize.
    from deploy.pipeline import compile_model
    from deploy.sim.events import from_tonic
    from deploy.sim.simulator import simulate_batch
    from deploy.timestep import evaluate
    from models import digits_events, training

    result = compile_model(MODEL, "speck2f", (2, 34, 34))
    core_in = result.placement.core_of[0]
    core_out = result.placement.core_of[-1]
    sims = simulate_batch(result.config, [from_tonic(e, core_in) for e, _ in (digits[i] for i in range(N))])
    counts = np.stack(
        [np.bincount(s.events["feature"][s.events["layer"] == core_out], minlength=10)[:10] for s in sims]
    )
    assert sequential.predictions("simulated") == tuple(training.predict(counts))
    assert sequential.synops.mean == pytest.approx(np.mean([int(s.synops.sum()) for s in sims]))
    quant = np.stack(
        [
            evaluate(result.qgraph, digits_events.rasterize(digits[i][0], 30)).output.sum(axis=(0, 2, 3))
            for i in range(N)
        ]
    )
    assert sequential.predictions("quantised") == tuple(training.predict(quant))
    labels = np.array([digits[i][1] for i in range(N)])
    assert sequential.accuracy["simulated"] == pytest.approx((training.predict(counts) == labels).mean())


@pytest.mark.parametrize(("executor", "workers"), [("process", 2), ("thread", 2), ("process", 3)])
def test_results_do_not_depend_on_executor_or_worker_count(digits, sequential, executor, workers) -> None:
    r = validate(MODEL, digits, parallel=ExecutorSpec(executor, workers))
    assert r == sequential
    assert [s.index for s in r.samples] == list(range(N))


def test_dask_local_cluster_gives_the_sequential_result(digits, sequential) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        r = validate(MODEL, digits, parallel=ExecutorSpec("dask", 2, cluster.scheduler_address))
    assert r == sequential


def test_gates(digits, sequential) -> None:
    r = validate(MODEL, digits, samples=2, gates=Gates(min_accuracy=0.0, max_drop=-101.0, min_agreement=0.0))
    by_name = {g.name: g for g in r.gates}
    assert by_name["min_accuracy"].passed and by_name["min_agreement"].passed
    assert not by_name["max_drop"].passed
    assert not r.passed
    assert "FAILED" in by_name["max_drop"].text


def test_raster_samples_become_chip_events(digits) -> None:
    from models import digits_events

    rasters = [digits_events.rasterize(digits[i][0], 30).astype(np.int64) for i in range(2)]
    ds = ArrayDataset(rasters, np.array([digits[0][1], digits[1][1]]), "rasters", dt_us=10_000)
    r = validate(MODEL, ds)
    assert r.n_samples == 2 and r.samples[0].input_events == int(rasters[0].sum())


def test_any_indexable_of_pairs_is_a_dataset(digits, sequential) -> None:
    class TonicLike:  # what a tonic dataset looks like from outside: len, [i] -> (events, target)
        sensor_size = (34, 34, 2)

        def __len__(self) -> int:
            return N

        def __getitem__(self, i: int):
            return digits[i]

    r = validate(MODEL, TonicLike(), duration_us=300_000)
    assert r.samples == sequential.samples


def test_bad_items_are_named(digits) -> None:
    class Bad:
        def __len__(self) -> int:
            return 1

        def __getitem__(self, i: int):
            return digits[0][0], "seven"

    with pytest.raises(DatasetError, match="item 0: label 'seven'"):
        validate(MODEL, Bad(), input_shape=(2, 34, 34))


def test_executor_errors() -> None:
    with pytest.raises(ExecutorError, match="unknown executor 'gpu'"):
        run_jobs([], executor="gpu")
    with pytest.raises(ExecutorError, match="needs --scheduler"):
        run_jobs([], executor="dask")
    with pytest.raises(ExecutorError, match="--workers must be ≥ 1"):
        run_jobs([], workers=0)


def test_summary_is_plain_json(sequential) -> None:
    doc = json.loads(json.dumps(sequential.to_dict(), allow_nan=False))
    assert doc["n_samples"] == N
    assert sum(map(sum, doc["confusion_simulated"])) == N
    assert len(doc["layers"]) == 3


def test_chunks_keep_sample_order_and_shrink_to_single_samples() -> None:
    from deploy.validation.executors import MAX_CHUNK, chunk_items

    items = [(i, None, 0) for i in range(359)]
    chunks = chunk_items(items, 2)
    assert [it for c in chunks for it in c] == items
    sizes = [len(c) for c in chunks]
    assert sizes[0] == MAX_CHUNK and sizes == sorted(sizes, reverse=True)
    assert sizes[-8:] == [1] * 8  # the last round leaves no worker waiting for another's long chunk
    assert chunk_items(items[:3], 4) == [[it] for it in items[:3]] and chunk_items([], 2) == []


def test_a_shipped_context_is_unpickled_once_per_process() -> None:
    import pickle

    from deploy.validation import prepare
    from deploy.validation.task import ShippedContext, TaskContext

    shipped = ShippedContext(prepare(MODEL, input_shape=(2, 34, 34)).context)
    first, again = (pickle.loads(pickle.dumps(shipped)) for _ in range(2))
    assert isinstance(first, TaskContext) and first is again and first is not shipped.context
    assert first.qgraph.layers[0].weight.tolist() == shipped.context.qgraph.layers[0].weight.tolist()
    other = pickle.loads(pickle.dumps(ShippedContext(shipped.context)))
    assert other is not first
