"""``partiald train`` and ``nn.fit`` on data as learners have it (issue 13, items 6-9).

Each test builds a small realistic CSV file: house prices with a row id, a
constant ``country`` column, a ``city`` column of text and prices written as
``"$642,080"``; the same in European form (semicolons, decimal commas, ``€``);
tab-separated files. Through the real command line (a subprocess) or the API:

6. a failed training (the loss NaN/inf or growing, values that overflow float64,
   R^2 far below 0) ends with a one-line diagnosis and exit status 1, and no
   sensitivity table; ``nn.fit`` warns and flags its history;
7. the sensitivity table is ranked by the effect per standard deviation, shows
   per unit and per std, leaves out constant and row-id columns with a note,
   one-hot encodes text columns;
8. numbers as people write them, sniffed delimiters, ``--decimal ,``; every
   refusal names the row, the column and the text;
9. regression from the command line is in the target's units however large they
   are; ``nn.fit`` on unscaled targets says so.
"""
import doctest
import subprocess
import sys
import warnings

import numpy as np
import pytest

from partiald import datasets, nn, optim

#: the true effects in the files below
SIZE, ROOMS, AGE, PARIS, LYON = 3_000.0, 10_000.0, -500.0, 150_000.0, 60_000.0


def _houses(n=300, seed=0):
    rng = np.random.default_rng(seed)
    size = np.round(rng.uniform(50, 250, n), 1)
    rooms = rng.integers(1, 7, n)
    age = rng.integers(0, 80, n)
    city = rng.choice(["Paris", "Lyon", "Lille"], n)
    bonus = np.select([city == "Paris", city == "Lyon"], [PARIS, LYON], 0.0)
    price = np.round(50_000 + SIZE * size + ROOMS * rooms + AGE * age + bonus + rng.normal(0, 2_000, n))
    return size, rooms, age, city, price


def _us_csv(tmp_path, n=300, name="houses.csv"):
    """id, size, rooms, age, city (text), country (always 1), price as "$642,080"."""
    size, rooms, age, city, price = _houses(n)
    lines = ["id,size,rooms,age,city,country,price"]
    lines += [f'{i + 1},{a},{b},{c},{d},1,"${p:,.0f}"' for i, (a, b, c, d, p) in
              enumerate(zip(size, rooms, age, city, price))]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _eu_number(v, decimals):
    """1234567.5 -> '1.234.567,50' (the European way)."""
    return f"{v:,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def _eu_csv(tmp_path, n=300, name="maisons.csv"):
    """Semicolons, decimal commas, prices as "597.072,00 €"."""
    size, rooms, age, city, price = _houses(n)
    lines = ["id;surface;rooms;age;city;country;price"]
    lines += [f"{i + 1};{_eu_number(a, 1)};{b};{c};{d};FR;{_eu_number(p, 2)} €" for i, (a, b, c, d, p) in
              enumerate(zip(size, rooms, age, city, price))]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _train(*args):
    return subprocess.run([sys.executable, "-m", "partiald", "train", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def _table(out):
    """``{feature: (per unit, per std)}`` and the order of the sensitivity table."""
    lines = out[out.index("\nfeature ") + 1:].splitlines()
    assert "per unit" in lines[0] and "per std" in lines[0] and "std of feature" in lines[0]
    rows = [ln.split() for ln in lines[1:] if ln.strip()]
    return {r[0]: (float(r[1]), float(r[2])) for r in rows}, [r[0] for r in rows]


# -- item 7 (and 8, 9): the realistic file end to end ----------------------------------------------------

def test_cli_regression_on_a_realistic_house_file(tmp_path):
    r = _train("--csv", _us_csv(tmp_path), "--target", "price", "--model", "linear", "--quiet")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    # the constant and the row id are left out with a note; the text column is one-hot encoded
    assert "note: column 'country' is 1 in every row: left out" in out
    assert "note: column 'id' looks like a row id" in out and "--keep id" in out
    assert "note: column 'city': 3 categories, one-hot encoded as 2 0/1 column(s) city=Lyon, city=Paris" in out
    assert "'Lille', is the reference" in out
    assert "300 examples, 5 features, regression of price" in out      # "$642,080" is a number, not 300 classes
    # item 9: trained on the standardized target, reported in dollars
    rmse = float(out.split("test RMSE: ")[1].split()[0])
    r2 = float(out.split("test R^2: ")[1].split()[0])
    assert r2 > 0.99 and rmse < 10_000
    effects, order = _table(out)
    assert "country" not in effects and "id" not in effects
    assert order == ["size", "city=Paris", "city=Lyon", "rooms", "age"]         # by effect per std
    assert effects["size"][0] == pytest.approx(SIZE, rel=0.02)
    assert effects["rooms"][0] == pytest.approx(ROOMS, rel=0.05)
    assert effects["age"][0] == pytest.approx(AGE, rel=0.1)
    assert effects["city=Paris"][0] == pytest.approx(PARIS, rel=0.02)          # Paris against Lille
    assert effects["city=Lyon"][0] == pytest.approx(LYON, rel=0.05)
    size = _houses()[0]
    # per std = per unit x the feature's standard deviation (of the training rows: close to the file's)
    assert effects["size"][1] == pytest.approx(effects["size"][0] * size.std(), rel=0.05)
    # ranked per std, not per unit: rooms has the larger effect per unit, size per std
    assert abs(effects["rooms"][0]) > abs(effects["size"][0]) and abs(effects["rooms"][1]) < abs(effects["size"][1])


def test_cli_keep_a_column_that_looks_like_a_row_id(tmp_path):
    r = _train("--csv", _us_csv(tmp_path), "--target", "price", "--model", "linear", "--quiet", "--keep", "id")
    assert r.returncode == 0, r.stderr
    assert "looks like a row id" not in r.stdout
    effects, _ = _table(r.stdout)
    assert "id" in effects and abs(effects["id"][1]) < 0.05 * abs(effects["size"][1])     # no effect
    r = _train("--csv", _us_csv(tmp_path), "--target", "price", "--keep", "ID")
    assert r.returncode == 2 and "--keep: no feature column 'ID'" in r.stderr


def test_cli_categorical_none_refuses_text_naming_row_and_column(tmp_path):
    r = _train("--csv", _us_csv(tmp_path), "--target", "price", "--categorical", "none")
    assert r.returncode == 2
    assert "column 'city' holds text" in r.stderr and "line 2, data row 1" in r.stderr
    assert "--categorical auto" in r.stderr and "--drop city" in r.stderr


def test_free_text_and_a_text_target_of_many_values_are_not_categories(tmp_path):
    p = tmp_path / "streets.csv"
    p.write_text("street,size,price\n" + "".join(f"{i} Main St,{50 + i},{1000 * i + 7}\n" for i in range(120)))
    with pytest.raises(ValueError, match=r"column 'street' holds 120 different texts in 120 rows.*free text"):
        datasets.load_csv(p, "price")
    p.write_text("size,price\n" + "".join(f"{50 + i},{i % 100}k\n" for i in range(120)))      # prices as 642k
    with pytest.raises(ValueError, match=r"target column 'price' holds 100 different texts in 120 rows.*not class "
                                         r"labels"):
        datasets.load_csv(p, "price")


def test_sensitivity_ranks_by_effect_per_standard_deviation():
    model = nn.Linear(2, 1)
    params = {"W": np.array([[3_000.0], [10_000.0]]), "b": np.zeros(1)}
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(50, 250, 500), rng.integers(1, 7, 500)])      # m^2, rooms
    s = nn.sensitivity(model, params, X, feature_names=["size", "rooms"], target_name="price")
    np.testing.assert_allclose(s.mean, [3_000, 10_000])
    np.testing.assert_allclose(s.std, X.std(0))
    np.testing.assert_allclose(s.per_std, s.mean * X.std(0))
    assert [s.feature_names[j] for j in s.ranking()] == ["size", "rooms"]
    assert list(s.as_dict()) == ["size", "rooms"]
    head, first, second = s.table().splitlines()
    assert head.split()[:2] == ["feature", "d"] and "per unit" in head and "per std" in head
    assert first.split()[0] == "size" and second.split()[0] == "rooms"
    s = nn.sensitivity(model, params, X, x_std=[1.0, 100.0])
    assert list(s.ranking()) == [1, 0]


def test_drop_uninformative():
    X = np.column_stack([np.arange(1.0, 11.0), np.ones(10), np.arange(10.0) % 3, np.arange(10.0) * 0.5])
    d = datasets.Dataset(X, np.zeros(10), ["id", "country", "floor", "size"], "price", "regression", "h")
    out = datasets.drop_uninformative(d)
    assert out.feature_names == ["floor", "size"]            # size: not whole numbers
    np.testing.assert_array_equal(out.X, X[:, 2:])
    assert len(out.notes) == 2 and "row id" in out.notes[0] and "'country' is 1 in every row" in out.notes[1]
    assert datasets.drop_uninformative(d, keep=["id"]).feature_names == ["id", "floor", "size"]
    only = datasets.Dataset(X[:, 1:2], np.zeros(10), ["country"], "price", "regression", "h")
    with pytest.raises(ValueError, match="no feature columns left: column 'country' is 1 in every row"):
        datasets.drop_uninformative(only)
    line = datasets.Dataset(X[:, :2], 2 * X[:, 0] + 1, ["x", "country"], "y", "regression", "h")   # y = 2x + 1
    kept = datasets.drop_uninformative(line)
    assert kept.feature_names == ["x"] and "the only feature: kept" in kept.notes[-1]
    result = doctest.testmod(datasets, optionflags=doctest.NORMALIZE_WHITESPACE, extraglobs={"np": np})
    assert result.failed == 0


# -- item 8: numbers as people write them, delimiters, decimal commas ------------------------------------

def test_load_csv_reads_numbers_as_people_write_them(tmp_path):
    p = tmp_path / "money.csv"
    p.write_text('price,rate,fee,gbp,tail,neg\n'
                 '"$642,080",12.5%,"€1,200.50",£3,642 080 €,-$5\n'
                 '"642,080",0.5%,€7,"£1,000,000",12 €,$-5.5\n'
                 '$1,1%,€0.25,£0,1 €,"-$1,000"\n', encoding="utf-8")
    d = datasets.load_csv(p, "price", task="regression")
    np.testing.assert_array_equal(d.y, [642_080, 642_080, 1])
    np.testing.assert_allclose(d.X, [[0.125, 1200.5, 3, 642_080, -5], [0.005, 7, 1e6, 12, -5.5],
                                     [0.01, 0.25, 0, 1, -1000]])
    assert any("'rate': percentages read as fractions" in note for note in d.notes)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, sep):
    p = tmp_path / "h.csv"
    p.write_text(sep.join(["size", "note", "price"]) + "\n"
                 + "".join(f"{50 + i}{sep}a, b{sep}{1000 * i}\n" for i in range(10)))
    d = datasets.load_csv(p, "price", exclude=["note"])
    assert d.feature_names == ["size"] and d.y[-1] == 9000
    assert datasets.load_csv(p, "price", exclude=["note"], delimiter={"\t": "tab"}.get(sep, sep)).X.shape == (10, 1)


def test_cli_european_file_with_decimal_comma(tmp_path):
    path = _eu_csv(tmp_path)
    r = _train("--csv", path, "--target", "price", "--model", "linear", "--quiet")
    assert r.returncode == 2
    # the first refusal names the row, the column and the text, and the option that reads it
    assert "line 2 (data row 1), column 'surface': '177,4'" in r.stderr or "column 'surface'" in r.stderr
    assert "--decimal ," in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _train("--csv", path, "--target", "price", "--model", "linear", "--quiet", "--decimal", ",")
    assert r.returncode == 0, r.stderr
    assert "note: column 'country' holds one value ('FR') in every row: left out" in r.stdout
    effects, order = _table(r.stdout)
    assert order[0] == "surface" and effects["surface"][0] == pytest.approx(SIZE, rel=0.02)
    assert effects["city=Paris"][0] == pytest.approx(PARIS, rel=0.02)
    r = _train("--csv", path, "--target", "price", "--quiet", "--decimal", ",", "--delimiter", ",")
    assert r.returncode == 2 and "decimal separator ',' cannot also be the field separator" in r.stderr


def test_tab_separated_file_through_the_cli(tmp_path):
    size, rooms, age, _, price = _houses()
    p = tmp_path / "houses.tsv"
    p.write_text("size\trooms\tage\tprice\n" + "".join(f"{a}\t{b}\t{c}\t{d:.0f}\n"
                                                       for a, b, c, d in zip(size, rooms, age, price)))
    for extra in ([], ["--delimiter", "tab"]):
        r = _train("--csv", p, "--target", "price", "--model", "linear", "--quiet", *extra)
        assert r.returncode == 0, r.stderr
        assert "300 examples, 3 features" in r.stdout


@pytest.mark.parametrize("text, kwargs, pattern", [
    ("size,price\n120,1\n1,5,2\n", {}, r"line 3: 3 fields"),
    ('size,price\n120,1\n"1,5",2\n', {}, r"line 3 \(data row 2\), column 'size': '1,5' is not a number "
                                         r"\(a decimal comma\? give decimal=','"),
    ("size;price\n1,250;3\n2,500;4\n", {}, r"line 2 \(data row 1\), column 'size': '1,250' in a semicolon-"
                                          r"separated file.*decimal=','"),
    ("size;price\n1.5;3\n2;4\n", {"decimal": ","}, r"line 2 \(data row 1\), column 'size': '1.5' is not a number"),
    ("size,price\n$12,3\n$1x,4\n", {}, r"line 3 \(data row 2\), column 'size': '\$1x' is not a number"),
    ("size,price\n12,$3\n13,€\n", {}, r"line 3 \(data row 2\), column 'price': '€' is not a number"),
    ("size,price\n12,3\n", {"delimiter": "ab"}, r"delimiter must be one character"),
    ("size,price\n12,3\n", {"decimal": ";"}, r"decimal must be '\.' or ','"),
])
def test_refusals_name_row_column_and_text(tmp_path, text, kwargs, pattern):
    p = tmp_path / "h.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=pattern):
        datasets.load_csv(p, "price", **kwargs)


def test_plain_numeric_files_keep_the_fast_reader(tmp_path, monkeypatch):
    p = tmp_path / "plain.csv"
    p.write_text("a,b,price\n" + "".join(f"{i},{i * 0.5},{i * 3}\n" for i in range(50)))

    def no(*args, **kwargs):
        raise AssertionError("the careful reader ran on a plain numeric file")
    monkeypatch.setattr(datasets, "_careful_csv", no)
    assert datasets.load_csv(p, "price").X.shape == (50, 2)


# -- item 6: a failed training says so, exit status 1 -------------------------------------------------

def _failed(r, *phrases):
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("partiald: training failed: "), r.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    assert "partial derivatives" not in r.stdout and "\nfeature " not in r.stdout      # no table from it
    return lines[0]


def test_cli_diverging_training_exits_1(tmp_path):
    r = _train("--csv", _us_csv(tmp_path), "--target", "price", "--model", "linear", "--optimizer", "sgd",
               "--lr", "5", "--quiet")
    _failed(r, "diverging: the loss became inf", "lower --lr (it was 5")


def test_cli_growing_loss_exits_1(tmp_path):
    r = _train("--csv", _us_csv(tmp_path), "--target", "price", "--model", "linear", "--optimizer", "sgd",
               "--lr", "1", "--epochs", "8", "--quiet")
    _failed(r, "the training loss grew over the last epochs", "lower --lr")


def test_cli_worse_than_the_mean_exits_1(tmp_path):
    r = _train("--csv", _us_csv(tmp_path), "--target", "price", "--model", "linear", "--optimizer", "sgd",
               "--lr", "0.5", "--epochs", "8", "--quiet")
    _failed(r, "worse than", "R^2 -", "lower --lr")


def test_cli_targets_that_overflow_float64_exit_1(tmp_path):
    size, rooms, age, _, price = _houses(60)
    p = tmp_path / "huge.csv"
    p.write_text("size,rooms,age,price\n" + "".join(f"{a},{b},{c},{d * 1e295:.6e}\n"
                                                    for a, b, c, d in zip(size, rooms, age, price)))
    _failed(_train("--csv", p, "--target", "price", "--quiet"), "targets around 1e300 overflow float64")
    p.write_text("size,rooms,price\n" + "".join(f"{a * 1e298:.6e},{b},{d}\n" for a, b, d in zip(size, rooms, price)))
    _failed(_train("--csv", p, "--target", "price", "--quiet"), "feature 'size'", "1e300", "overflow float64")


def test_cli_diverging_classification_exits_1():
    pytest.importorskip("sklearn")
    r = _train("--dataset", "breast_cancer", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3", "--quiet")
    _failed(r, "diverging", "--lr")


# -- nn.fit: a warning and a flag on the history --------------------------------------------------------

def test_fit_warns_and_flags_a_diverging_history():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3)) * 100
    y = X @ np.array([1.0, 2.0, 3.0])
    model = nn.Linear(3, 1)
    with pytest.warns(nn.TrainingFailedWarning, match="diverging: the loss at epoch .* became (inf|nan)"), \
            np.errstate(all="ignore"):
        params, hist = nn.fit(model, model.init(0), X, y, loss="mse", optimizer=optim.sgd(10.0), epochs=30,
                              validation=(X, y), verbose=False)
    assert hist.failed and hist.failure == "diverging" and "lower the learning rate" in hist.diagnosis
    assert len(hist["loss"]) < 30 and not np.isfinite(hist["loss"][-1])       # stopped where it failed
    assert len(hist["val_loss"]) == len(hist["loss"])
    with pytest.raises(FloatingPointError, match="diverging"), np.errstate(all="ignore"):
        nn.fit(model, model.init(0), X, y, loss="mse", optimizer=optim.sgd(10.0), epochs=30, verbose=False,
               on_failure="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, hist = nn.fit(model, model.init(0), X, y, loss="mse", optimizer=optim.sgd(10.0), epochs=30,
                         verbose=False, on_failure="ignore")
    assert hist.failure == "diverging"
    with pytest.warns(nn.TrainingFailedWarning, match=r"targets around 1e30\d overflow float64"):
        _, hist = nn.fit(model, model.init(0), X / 100, y * 1e299, loss="mse", epochs=2, verbose=False)
    assert hist.failure == "overflow"


def test_fit_on_unscaled_prices_says_so_and_standardized_targets_train():
    """Item 9: nn.fit of nn.Linear on prices in dollars sits at a loss around 1e11."""
    size, rooms, age, _, price = _houses()
    X, xs = datasets.standardize(np.column_stack([size, rooms, age]).astype(float))
    model = nn.Linear(3, 1)
    with pytest.warns(nn.TrainingFailedWarning, match=r"stalled: .*unscaled .*standardize them"):
        _, hist = nn.fit(model, model.init(0), X, price, loss="mse", optimizer=optim.adam(1e-2), epochs=20,
                         verbose=False)
    assert hist.failure == "stalled" and hist["loss"][-1] > 1e10
    ys = datasets.Standardizer.fit(price)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        params, hist = nn.fit(model, model.init(0), X, ys.transform(price), loss="mse",
                              optimizer=optim.adam(1e-2), epochs=100, verbose=False)
    assert not hist.failed and hist.failure is None and hist.diagnosis is None
    pred = ys.inverse_transform(nn.predict(model, params, X).reshape(-1))
    assert 1 - np.mean((pred - price) ** 2) / price.var() > 0.85        # in dollars; the city is left out
    s = nn.sensitivity(model, params, X, feature_names=["size", "rooms", "age"], x_scale=xs.scale,
                       y_scale=ys.scale, target_name="price")
    assert s.mean[0] == pytest.approx(SIZE, rel=0.05)


def test_fit_growing_loss_is_flagged():
    from partiald.nn.training import _after_training
    assert _after_training([1.0, 2.0, 4.0, 8.0, 16.0], np.zeros(3), nn.cross_entropy)[0] == "growing"
    assert _after_training([1.0, 0.1, 0.01, 0.5, 2.0, 10.0], np.zeros(3), nn.cross_entropy)[0] == "growing"
    # a converged loss that wiggles at 1e-10 is not a failure
    assert _after_training([1.0, 1e-10, 2e-10, 3e-10, 4e-10], np.zeros(3), nn.cross_entropy)[0] is None
    assert _after_training([1.0, 0.5, 0.51, 0.52, 0.53], np.zeros(3), nn.cross_entropy)[0] is None


def test_readme_shows_the_real_output_on_the_house_file(tmp_path):
    """The README's ``partiald train --csv houses.csv`` session is this file's ``_us_csv``."""
    import pathlib
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    command = "$ partiald train --csv houses.csv --target price --model linear --quiet\n"
    shown = readme[readme.index(command) + len(command):].split("```")[0].splitlines()
    r = _train("--csv", _us_csv(tmp_path), "--target", "price", "--model", "linear", "--quiet")
    assert r.returncode == 0, r.stderr
    got = r.stdout.splitlines()
    assert len(got) == len(shown)
    for a, b in zip(shown, got):
        if a.startswith("trained in"):
            continue
        words_a, words_b = a.split(), b.split()
        assert len(words_a) == len(words_b), (a, b)
        for u, v in zip(words_a, words_b):
            try:
                assert float(u) == pytest.approx(float(v), rel=1e-3), (a, b)
            except ValueError:
                assert u == v, (a, b)
