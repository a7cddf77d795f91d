"""The data path: files, folders and globs through Arrow, statistics in one
streaming pass, X built block by block, in memory or memory-mapped."""
import gc
import json
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from descend.data import design
from descend.data.design import StreamRows, TableRows
from descend.data.preprocess import Preprocessor
from descend.data.source import open_source
from descend.model.training import TrainOptions, prepare


def mixed_frame(m=300, seed=0):
    """Numbers with gaps and offsets, text with gaps, true/false, a yes/no target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, m).round(2),
        "income": rng.lognormal(10, 0.5, m).round(0) + 1e6,   # a large offset
        "plan": rng.choice(["basic", "pro", "team", "Zeta"], m),
        "active": rng.random(m) < 0.3,
        "visits": rng.integers(0, 9, m),
    })
    frame.loc[rng.choice(m, 15, replace=False), "age"] = np.nan
    frame.loc[rng.choice(m, 9, replace=False), "plan"] = None
    z = 0.05 * (frame.age.fillna(40) - 40) + (frame.plan == "pro") - 0.5 * frame.active
    frame["y"] = np.where(rng.random(m) < 1 / (1 + np.exp(-z)), "yes", "no")
    return frame


def sklearn_matrix(train, new, impute):
    """scikit-learn's own pipeline on the same columns, text columns as text."""
    numeric, categorical = ["age", "income", "visits"], ["plan", "active"]
    as_text = lambda f: f.assign(**{c: f[c].astype(object).where(f[c].isna(), f[c].astype(str))  # noqa: E731
                                    for c in categorical})
    transformer = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy=impute), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
         categorical)], sparse_threshold=0.0)
    transformer.fit(as_text(train))
    return transformer.transform(as_text(new))


def features(frame):
    return frame[["age", "income", "visits", "plan", "active"]]


@pytest.mark.parametrize("block_rows", [1, 7, 100_000])
@pytest.mark.parametrize("impute", ["mean", "median", "most_frequent"])
def test_streamed_statistics_equal_scikit_learns_transform(block_rows, impute, monkeypatch):
    """Blocks of 1, 7 or 100,000 rows: the merged statistics give scikit-learn's
    matrix, for the training rows and for new rows with an unseen category."""
    monkeypatch.setattr(design, "BLOCK_ROWS", block_rows)
    frame = mixed_frame()
    prepared = prepare(TableRows(pa.Table.from_pandas(frame, preserve_index=False)),
                       TrainOptions(target="y", impute=impute))
    expected = sklearn_matrix(features(frame), features(frame), impute)
    np.testing.assert_allclose(prepared.X, expected, rtol=0, atol=1e-12)
    new = features(mixed_frame(40, seed=1)).copy()
    new.loc[0, "plan"] = "enterprise"
    got = prepared.preprocessor.transform(new)
    np.testing.assert_allclose(got, sklearn_matrix(features(frame), new, impute), rtol=0,
                               atol=1e-12)
    assert got[0, 3:7].sum() == 0  # an unseen category: all zeros


def test_the_last_pass_lets_the_table_go_as_x_fills(tmp_path, monkeypatch):
    """While X is filled, each part of the in-memory table is freed once used,
    so the table and X are never both whole in memory; earlier passes keep it."""
    monkeypatch.setattr(design, "BLOCK_ROWS", 1000)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(mixed_frame(20_000), preserve_index=False), path,
                   row_group_size=1000)
    gc.collect()
    # Arrow's count is the process's: what earlier tests left alive is not ours
    before = pa.total_allocated_bytes()
    rows = TableRows(open_source(path).read())
    seen = []

    def make_visitor():
        return lambda batch: seen.append(pa.total_allocated_bytes() - before)
    rows.scan(make_visitor)
    assert rows.table is not None and seen[-1] >= seen[0]
    seen.clear()
    rows.scan(make_visitor, last=True)
    assert rows.table is None
    assert seen[-1] < seen[0] / 4


@pytest.mark.parametrize("row_group", [1, 7, 100_000])
def test_files_read_in_any_batches_give_the_same_bits(row_group, tmp_path, monkeypatch):
    """Parquet row groups of 1, 7 or 100,000 rows, streamed or read whole, and
    the same table as CSV: bit-identical design matrices (blocks of 16 rows,
    so that blocks and the files' batches do not line up)."""
    monkeypatch.setattr(design, "BLOCK_ROWS", 16)
    frame = mixed_frame(250)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    parquet = tmp_path / "d.parquet"
    pq.write_table(table, parquet, row_group_size=row_group)
    csv = tmp_path / "d.csv"
    frame.to_csv(csv, index=False)
    options = TrainOptions(target="y", impute="mean")
    reference = prepare(TableRows(table), options).X
    for rows in (StreamRows(open_source(parquet)), TableRows(open_source(parquet).read()),
                 StreamRows(open_source(parquet, dictionary_text=True)),
                 TableRows(open_source(parquet, dictionary_text=True).read()),
                 StreamRows(open_source(csv)), TableRows(open_source(csv).read())):
        assert np.array_equal(prepare(rows, options).X, reference)


def _parts(X):
    return (X.numeric, X.codes) if hasattr(X, "codes") else (X,)


@pytest.mark.parametrize("encoding", ["onehot", "codes"])
@pytest.mark.parametrize("impute", [None, "most_frequent"])
def test_text_read_as_dictionaries_gives_the_bits_of_text(encoding, impute, tmp_path,
                                                          monkeypatch):
    """Parquet text read as dictionary arrays (codes into each row group's
    own distinct values; a missing value in the rows or in a dictionary):
    the statistics, the design matrix and the errors of plain text."""
    monkeypatch.setattr(design, "BLOCK_ROWS", 16)
    frame = mixed_frame(250)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=37)
    read = pq.read_table(path, read_dictionary=["plan", "y"])
    assert pa.types.is_dictionary(read.schema.field("plan").type)
    plan = read.column("plan").combine_chunks()
    null_in_dictionary = pa.DictionaryArray.from_arrays(
        plan.indices, pa.array(plan.dictionary.to_pylist() + [None]))
    options = TrainOptions(target="y", impute=impute, drop_missing=impute is None,
                           categorical=encoding)
    reference = prepare(TableRows(pq.read_table(path)), options)
    for rows in (TableRows(read), StreamRows(open_source(path, dictionary_text=True)),
                 TableRows(read.set_column(read.column_names.index("plan"), "plan",
                                           null_in_dictionary))):
        got = prepare(rows, options)
        assert all(np.array_equal(a, b) for a, b in zip(_parts(got.X), _parts(reference.X)))
        assert got.preprocessor.to_dict() == reference.preprocessor.to_dict()
        assert np.array_equal(got.y, reference.y) and got.classes == reference.classes
    if impute is None:  # a model that fills nothing meets the gaps, counted
        with pytest.raises(ValueError, match=r"missing values in 'plan': 9;"):
            reference.preprocessor.transform(read.select(["age", "income", "plan", "active",
                                                          "visits"]).combine_chunks())


def test_a_column_of_codes_is_read_as_its_text_whatever_else_the_file_holds(run_cli, tmp_path):
    """Grades A/B/C/1: a row's prediction must not depend on the other rows
    (an empty grade elsewhere must not turn "1" into "1.0")."""
    rng = np.random.default_rng(2)
    grades = rng.choice(["A", "B", "C", "1"], 200)
    x = rng.normal(size=200)
    y = np.where(x + (grades == "1") > 0.5, "yes", "no")
    pd.DataFrame({"x": x, "grade": grades, "y": y}).to_csv(tmp_path / "t.csv", index=False)
    model = tmp_path / "m.json"
    assert run_cli("train", tmp_path / "t.csv", "-t", "y", "--impute", "most_frequent",
                   "-o", model, "-q")[0] == 0
    (tmp_path / "one.csv").write_text("x,grade\n0.4,1\n")
    (tmp_path / "two.csv").write_text("x,grade\n0.4,1\n0.1,\n")
    alone = pd.read_csv(tmp_path / "p1.csv") if run_cli(
        "predict", model, tmp_path / "one.csv", "-o", tmp_path / "p1.csv")[0] == 0 else None
    beside = pd.read_csv(tmp_path / "p2.csv") if run_cli(
        "predict", model, tmp_path / "two.csv", "-o", tmp_path / "p2.csv")[0] == 0 else None
    assert alone.probability_yes[0] == beside.probability_yes[0]
    assert json.loads(model.read_text())["preprocessing"]["categorical"]["categories"] == \
        [["1", "A", "B", "C"]]


@pytest.mark.parametrize("column,message", [
    ("empty", "have no values at all"),
    ("mixed", "mixes numbers and text"),
    ("when", "holds dates or times"),
])
def test_columns_descend_cannot_use_are_refused_with_the_fix(column, message):
    frame = mixed_frame(60)
    frame["empty"] = np.nan
    frame["mixed"] = ["1", "2", "x"] + [str(i) for i in range(57)]
    frame["when"] = pd.date_range("2024-01-01", periods=60)
    data = frame[["age", "y", column]]
    with pytest.raises(ValueError, match=message) as info:
        prepare(TableRows(pa.Table.from_pandas(data, preserve_index=False)),
                TrainOptions(target="y", impute="mean"))
    assert f"drop='{column}'" in str(info.value) or column == "empty"


@pytest.mark.parametrize("block_rows", [1, 3, 7, 65536])
def test_a_mixed_column_is_refused_naming_its_first_value_that_is_not_a_number(
        monkeypatch, block_rows):
    # blocks of one row: the first blocks hold no number at all
    monkeypatch.setattr(design, "BLOCK_ROWS", block_rows)
    frame = mixed_frame(40)
    frame["mixed"] = [None, "n/a", "n/a"] + [str(i) for i in range(35)] + ["oops", "n/a"]
    with pytest.raises(ValueError, match=r"mixes numbers and text \(e\.g\. 'n/a' in data row "
                       r"2, 4 such values\)"):
        prepare(TableRows(pa.Table.from_pandas(frame[["age", "y", "mixed"]],
                                               preserve_index=False)),
                TrainOptions(target="y", impute="mean"))
    frame["mixed"] = [str(i) for i in range(5)] + ["oops", "n/a"] + [str(i) for i in range(33)]
    with pytest.raises(ValueError, match=r"'oops' in data row 6, 2 such values"):
        prepare(TableRows(pa.Table.from_pandas(frame[["age", "y", "mixed"]],
                                               preserve_index=False)),
                TrainOptions(target="y", impute="mean"))


def _coefficients(path):
    return np.array(json.loads(path.read_text())["coef"])


def test_a_folder_of_parts_and_a_glob_train_like_the_whole_file(run_cli, tmp_path):
    frame = mixed_frame(300).dropna()
    frame.to_csv(tmp_path / "whole.csv", index=False)
    parts = tmp_path / "parts"
    parts.mkdir()
    for k, part in enumerate(frame.iloc[i::3] for i in range(3)):
        part.to_csv(parts / f"part-{k}.csv", index=False)
        part.to_parquet(tmp_path / f"p-{k}.parquet", index=False)
    runs = {"whole": tmp_path / "whole.csv", "folder": parts,
            "glob": str(tmp_path / "p-*.parquet")}
    coefs = {}
    for name, data in runs.items():
        code, out, err = run_cli("train", data, "-t", "y", "-o", tmp_path / f"{name}.json", "-q")
        assert code == 0, err
        coefs[name] = _coefficients(tmp_path / f"{name}.json")
    np.testing.assert_allclose(coefs["folder"], coefs["whole"], rtol=1e-12)
    np.testing.assert_allclose(coefs["glob"], coefs["whole"], rtol=1e-12)


def test_hive_partitions_are_columns(run_cli, tmp_path):
    frame = mixed_frame(300).dropna()
    for region, part in zip(["north", "south"], (frame.iloc[:150], frame.iloc[150:])):
        folder = tmp_path / "data" / f"region={region}"
        folder.mkdir(parents=True)
        part.to_parquet(folder / "part.parquet", index=False)
    code, out, err = run_cli("train", tmp_path / "data", "-t", "y", "-o", tmp_path / "m.json",
                             "-q")
    assert code == 0, err
    names = json.loads((tmp_path / "m.json").read_text())["feature_names"]
    assert "region=north" in names and "region=south" in names


def test_memory_limit_streams_and_maps_the_matrix_with_the_same_result(run_cli, tmp_path,
                                                                       monkeypatch):
    frame = mixed_frame(400)
    frame.to_csv(tmp_path / "d.csv", index=False)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    common = ["train", tmp_path / "d.csv", "-t", "y", "--impute", "mean", "-q"]
    code, _, err = run_cli(*common, "--dtype", "float32", "-o", tmp_path / "in_memory.json")
    assert code == 0, err
    code, out, err = run_cli(*common, "--memory-limit", "4KB", "-o", tmp_path / "mapped.json")
    assert code == 0, err
    assert "memory-mapped" in out
    assert np.array_equal(_coefficients(tmp_path / "mapped.json"),
                          _coefficients(tmp_path / "in_memory.json"))
    assert list(scratch.iterdir()) == []  # the mapped file is gone


def test_drop_missing_also_drops_rows_without_a_label(run_cli, tmp_path):
    frame = mixed_frame(200).dropna()
    frame.loc[frame.index[[3, 8]], "y"] = None
    frame.to_csv(tmp_path / "d.csv", index=False)
    code, _, err = run_cli("train", tmp_path / "d.csv", "-t", "y", "-q")
    assert code == 1 and "2 missing values" in err and "--drop-missing" in err
    code, out, err = run_cli("train", tmp_path / "d.csv", "-t", "y", "--drop-missing", "-q")
    assert code == 0, err
    assert "dropped 2 rows without a label" in out
    assert f"trained on {len(frame) - 2} rows" in out


def test_the_report_summarises_text_columns_as_well_as_numbers(run_cli, customers, tmp_path):
    model, page = tmp_path / "m.json", tmp_path / "r.html"
    assert run_cli("train", customers, "-t", "churn", "--impute", "mean", "-o", model,
                   "-q")[0] == 0
    code, _, err = run_cli("report", model, customers, "-o", page)
    assert code == 0, err
    html = page.read_text()
    frame = pd.read_csv(customers)
    top = frame.plan.value_counts()
    assert "<th>levels</th><th>most frequent</th>" in html
    assert (f"<td>plan</td><td>3</td><td>{top.index[0]}</td><td>{top.iloc[0]}</td>"
            f"<td>{frame.plan.isna().sum()}</td>") in html
    assert f"<td>age</td><td>{frame.age.mean():.4g}</td>" in html


def test_quoted_line_breaks_inside_fields_are_text(run_cli, tmp_path):
    rows = "".join(f'{i},"line {i % 3}\nnext",{"yes" if i % 2 else "no"}\n' for i in range(40))
    (tmp_path / "d.csv").write_text("a,note,y\n" + rows)
    code, _, err = run_cli("train", tmp_path / "d.csv", "-t", "y", "-o", tmp_path / "m.json", "-q")
    assert code == 0, err
    categories = json.loads((tmp_path / "m.json").read_text())["preprocessing"]["categorical"]
    assert categories["categories"] == [["line 0\nnext", "line 1\nnext", "line 2\nnext"]]


@pytest.mark.parametrize("rows", [200, 150_000])  # the AUC on one thread, on two
def test_metrics_are_scikit_learns(rows):
    from sklearn import metrics

    from descend.model.metrics import PARALLEL_ROWS, classification_metrics
    assert (rows >= PARALLEL_ROWS) == (rows > 200)
    rng = np.random.default_rng(3)
    for share in (0.0, 0.1, 0.5, 1.0):
        y = (rng.random(rows) < share).astype(float)
        proba = rng.random(rows)
        got, pred = classification_metrics(y, proba), proba > 0.5
        assert got["accuracy"] == metrics.accuracy_score(y, pred)
        assert got["precision"] == metrics.precision_score(y, pred, zero_division=0)
        assert got["recall"] == metrics.recall_score(y, pred, zero_division=0)
        assert got["confusion_matrix"] == metrics.confusion_matrix(y, pred, labels=[0, 1]).tolist()
        assert got["log_loss"] == pytest.approx(metrics.log_loss(y, proba, labels=[0, 1]))
        if 0 < y.sum() < len(y):
            tied = np.round(proba, 1)  # many ties, which count half
            assert classification_metrics(y, tied)["roc_auc"] == pytest.approx(
                metrics.roc_auc_score(y, tied), rel=1e-12)
            assert got["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, proba), rel=1e-12)


def test_probabilities_of_a_float32_matrix_do_not_copy_it():
    """A mapped float32 X larger than memory must not be copied to float64."""
    import tracemalloc

    from descend.model.table_model import TableModel
    X = np.random.default_rng(0).standard_normal((100_000, 40)).astype(np.float32)
    model = TableModel(target="y", classes=["no", "yes"], preprocessor=None,
                       coef=np.linspace(-1, 1, 40), intercept=0.3)
    tracemalloc.start()
    proba = model.probabilities(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < X.nbytes / 4
    expected = 1 / (1 + np.exp(-(X.astype(np.float64) @ model.coef + 0.3)))
    np.testing.assert_allclose(proba, expected, rtol=1e-5)


def test_a_whole_csv_file_read_in_small_blocks_is_typed_by_all_its_rows(tmp_path):
    """Parsed in blocks of CSV_READ_BLOCK_BYTES, a whole file's column types
    come from all its rows: integers for the first megabytes then a decimal
    are numbers, and so is a column empty at first then holding numbers."""
    from descend.data import source
    rows = 3 * source.CSV_READ_BLOCK_BYTES // 12  # ~3 small blocks of "i,,yes\n"
    assert rows * 12 < source.CSV_BLOCK_BYTES
    lines = [f"{i % 1000},,{'yes' if i % 3 else 'no'}" for i in range(rows)]
    lines += ["2.5,1.5,yes", "7,2,no"]
    path = tmp_path / "late.csv"
    path.write_text("count,late,y\n" + "\n".join(lines) + "\n")
    table = open_source(path).read()
    assert table.schema.field("count").type == pa.float64()
    assert table.schema.field("late").type == pa.float64()
    assert table.column("count")[-2].as_py() == 2.5 and table.column("late")[-2].as_py() == 1.5


@pytest.mark.parametrize("classes", [["no", "yes"], ["a", "b", "c"]])
def test_labels_as_a_dictionary_encode_as_their_text(classes):
    from descend.model.labels import choose_classes, encode_target
    rng = np.random.default_rng(4)
    labels = pa.array(rng.choice(classes, 500).tolist())
    chunked = pa.chunked_array([labels.slice(0, 200).dictionary_encode(),
                                labels.slice(200).dictionary_encode()])  # two dictionaries
    assert choose_classes(chunked) == choose_classes(labels) == classes
    expected = encode_target(labels, classes)
    got = encode_target(chunked, classes)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert np.array_equal(expected, [classes.index(v) for v in labels.to_pylist()])
    for bad, message in (("zzz", r"labels \['zzz'\] the model does not know"),
                         (None, "missing labels the model does not know")):
        broken = pa.array(labels.to_pylist()[:9] + [bad]).dictionary_encode()
        with pytest.raises(ValueError, match=message):
            encode_target(broken, classes)
        with pytest.raises(ValueError, match=message):
            encode_target(broken.dictionary_decode(), classes)
