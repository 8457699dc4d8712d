"""The corpora pipeline on the real public text in ../shared/data, end to end through Dagster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from corpus import runner
from corpus.spec import PathPolicy, load_spec_file
from platform_assets.orchestrate import materialize_pipeline, stage_names
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def test_corpora_pipeline_on_shared_data(shared_data: Path, project_root: Path, tmp_path: Path):
    spec = load_spec_file(project_root / "platform_assets/defs/corpora/defs.yaml", PathPolicy.default(project_root))
    # the spec points at ../shared/data relative to the project; follow CORPUS_SHARED_DATA when set elsewhere
    spec = spec.model_copy(
        update={
            "sources": [
                s.model_copy(update={"location": str(shared_data / Path(s.location).relative_to("../shared/data"))})
                for s in spec.sources
            ]
        }
    )
    res = default_resources()
    res["storage"] = CorpusStorage(root=str(tmp_path / "store"))
    materialize_pipeline(
        spec, resources=res, instance=dg.DagsterInstance.ephemeral(), parallel=1, progress=lambda _: None
    )
    store = res["storage"].store()
    for stage in stage_names(spec):
        for src in spec.source_names:
            rep = runner.read_report(store, "corpora", stage, src)
            assert rep.conserved and rep.kept > 0, (stage, src, rep.docs_in, rep.kept, rep.dropped)
    raw = {s: runner.read_report(store, "corpora", "raw", s) for s in spec.source_names}
    assert raw["math"].kept == 7473 and raw["web"].docs_in == 296
    lang = runner.read_report(store, "corpora", "language", "multilingual")
    assert len(lang.extra["languages"]) >= 10  # many languages identified
    web = runner.read_report(store, "corpora", "extracted", "web")
    assert web.kept >= 250 and web.bytes_out < web.bytes_in / 5  # boilerplate and markup removed
