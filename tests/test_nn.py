"""Neural networks, training, sensitivities, data loading and ``partiald train``
(TESTING.md section 7, issue 6).

Gradients of every layer, activation and loss pass ``pdx.check_grads`` (central
differences, float64, order 1, forward and reverse mode); digits reaches at
least 97 % held-out accuracy; a linear model recovers known coefficients and
its sensitivities equal them; two ``fit`` runs with one seed give a
bitwise-identical history; bad CSV files and bad command lines get a message
naming the place (exit status 2, no traceback).
"""
import doctest
import io
import math
import re
import subprocess
import sys

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald import datasets, nn, optim
from partiald.nn import training as nn_training
from partiald.nn import layers as nn_layers
from partiald.nn import losses as nn_losses
from partiald.nn import sensitivities as nn_sensitivities

RNG = np.random.default_rng(0)


def _has(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


needs_sklearn = pytest.mark.skipif(not _has("sklearn"), reason='needs scikit-learn: pip install "partiald[data]"')


# -- gradients: every layer, activation and loss against finite differences -------------------------

ACTIVATION_NAMES = ["tanh", "relu", "sigmoid", "gelu", "softmax", "softplus"]


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_gradients_match_finite_differences(name):
    x = RNG.normal(size=(4, 5)) * 2
    x[np.abs(x) < 1e-3] = 0.5                     # keep relu away from its kink
    pdx.check_grads(lambda x: nn.ACTIVATIONS[name](x), (x,), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_mlp_gradients_match_finite_differences(name):
    """Gradients with respect to the parameters and the inputs at once, through a loss."""
    model = nn.MLP([3, 5, 4, 2], activation=name)
    params = model.init(seed=1)
    X = RNG.normal(size=(6, 3))
    labels = RNG.integers(0, 2, 6)
    pdx.check_grads(lambda p, X: nn.cross_entropy(model(p, X), labels), (params, X), order=1,
                    modes=("fwd", "rev"))


def test_linear_layer_gradients_match_finite_differences():
    layer = nn.Linear(4, 3)
    params = layer.init(seed=0)
    params["b"] = RNG.normal(size=3)
    X = RNG.normal(size=(5, 4))
    pdx.check_grads(lambda p, X: layer(p, X), (params, X), order=1, modes=("fwd", "rev"))


def test_loss_gradients_match_finite_differences():
    z = RNG.normal(size=(7, 4)) * 3
    labels = RNG.integers(0, 4, 7)
    probs = nn.softmax(RNG.normal(size=(7, 4)))
    target = RNG.normal(size=(7, 4))
    for f in (lambda z: nn.cross_entropy(z, labels), lambda z: nn.cross_entropy(z, probs),
              lambda z: nn.mse(z, target), lambda z: nn.binary_cross_entropy(z[:, 0], labels % 2),
              lambda z: nn.binary_cross_entropy(z[:, :1], (labels % 2).astype(float))):
        pdx.check_grads(f, (z,), order=1, modes=("fwd", "rev"))
    # mse with respect to the target too
    pdx.check_grads(lambda z, t: nn.mse(z, t), (z, target), order=1, modes=("fwd", "rev"))


def test_three_layer_tanh_mlp_with_a_thousand_parameters():
    model = nn.MLP([8, 24, 24, 8], activation="tanh")
    params = model.init(seed=0)
    assert model.num_params == nn.count_params(params) == 1016
    X = RNG.normal(size=(16, 8))
    y = RNG.integers(0, 8, 16)
    pdx.check_grads(lambda p: nn.cross_entropy(model(p, X), y), (params,), order=1, modes=("fwd", "rev"))
    pdx.check_grads(lambda p: nn.mse(model(p, X), RNG.normal(size=(16, 8)) * 0 + 0.5), (params,), order=1,
                    modes=("rev",))


def test_losses_match_hand_written_numpy():
    z = RNG.normal(size=(6, 3))
    y = np.array([0, 2, 1, 1, 0, 2])
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    assert nn.cross_entropy(z, y) == pytest.approx(-logp[np.arange(6), y].mean(), rel=1e-14)
    assert nn.cross_entropy(z, np.eye(3)[y]) == pytest.approx(-logp[np.arange(6), y].mean(), rel=1e-14)
    t = (y > 0).astype(float)
    s = 1 / (1 + np.exp(-z[:, 0]))
    bce = -(t * np.log(s) + (1 - t) * np.log(1 - s)).mean()
    assert nn.binary_cross_entropy(z[:, 0], t) == pytest.approx(bce, rel=1e-13)
    assert nn.mse(z[:, :1], z[:, 1]) == pytest.approx(((z[:, 0] - z[:, 1]) ** 2).mean(), rel=1e-14)
    # stable for huge logits: finite value and gradient
    big = np.array([[1e4, -1e4], [-1e4, 1e4]])
    assert nn.cross_entropy(big, np.array([0, 1])) == 0.0
    assert np.isfinite(pdx.grad(lambda z: nn.binary_cross_entropy(z, np.array([0.0, 1.0])))(big[0])).all()


def test_gelu_is_the_erf_form_and_its_tanh_form_is_close():
    x = np.linspace(-6, 6, 241)
    exact = 0.5 * x * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    np.testing.assert_allclose(nn.gelu(x), exact, rtol=1e-14, atol=1e-15)
    assert np.max(np.abs(nn.gelu(x, approximate=True) - exact)) < 1e-3
    assert nn.gelu(0.0) == 0.0
    # d/dx x Phi(x) = Phi(x) + x phi(x), with phi the standard normal density
    phi = np.exp(-x ** 2 / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    np.testing.assert_allclose(pdx.vmap(pdx.grad(nn.gelu))(x), cdf + x * phi, rtol=1e-13, atol=1e-15)


def test_loss_errors_name_the_shapes_and_the_range():
    with pytest.raises(ValueError, match=r"label 10 is out of range.*0\.\.9"):
        nn.cross_entropy(np.zeros((2, 10)), np.array([3, 10]))
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(3,\)"):
        nn.mse(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="0 or 1"):
        nn.binary_cross_entropy(np.zeros(2), np.array([0, 2]))
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        nn.MLP([2, 2], activation="swish")
    with pytest.raises(ValueError, match=r"shape \(n, 3\).*\(5, 4\)"):
        nn.MLP([3, 2])(nn.MLP([3, 2]).init(0), np.zeros((5, 4)))


# -- models: initialization, dtypes ------------------------------------------------------------------

def test_init_is_seeded_and_scaled():
    model = nn.MLP([100, 50, 10], activation="tanh")
    a, b, c = model.init(seed=3), model.init(seed=3), model.init(seed=4)
    assert all(np.array_equal(x["W"], y["W"]) for x, y in zip(a, b))
    assert not np.array_equal(a[0]["W"], c[0]["W"])
    assert np.all(a[0]["b"] == 0)
    assert np.std(a[0]["W"]) == pytest.approx(np.sqrt(2 / 150), rel=0.05)              # Glorot
    relu = nn.MLP([100, 50, 10], activation="relu").init(seed=3)
    assert np.std(relu[0]["W"]) == pytest.approx(np.sqrt(2 / 100), rel=0.05)           # He
    assert isinstance(a, list) and sorted(a[0]) == ["W", "b"]


def test_apply_is_call():
    model = nn.MLP([4, 6, 3])
    params = model.init(0)
    X = RNG.normal(size=(5, 4))
    assert np.array_equal(model(params, X), model.apply(params, X))
    h = np.tanh(X @ params[0]["W"] + params[0]["b"])
    np.testing.assert_allclose(model(params, X), h @ params[1]["W"] + params[1]["b"], rtol=1e-14)


def test_float32_end_to_end():
    model64 = nn.MLP([5, 8, 3])
    model32 = nn.MLP([5, 8, 3], dtype=np.float32)
    p64, p32 = model64.init(0), model32.init(0)
    assert all(v.dtype == np.float32 for layer in p32 for v in layer.values())
    X = RNG.normal(size=(20, 5))
    y = RNG.integers(0, 3, 20)
    out32 = model32(p32, X)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, model64(p64, X), rtol=1e-5, atol=1e-5)
    loss32 = lambda p: nn.cross_entropy(model32(p, X.astype(np.float32)), y)
    g32 = pdx.grad(loss32)(p32)
    g64 = pdx.grad(lambda p: nn.cross_entropy(model64(p, X), y))(p64)
    assert all(v.dtype == np.float32 for layer in g32 for v in layer.values())
    np.testing.assert_allclose(g32[0]["W"], g64[0]["W"], rtol=2e-3, atol=1e-5)
    trained, hist = nn.fit(model32, p32, X, y, optimizer=optim.adam(1e-2), epochs=3, batch_size=8, verbose=False)
    assert all(v.dtype == np.float32 for layer in trained for v in layer.values())
    assert all(isinstance(v, float) for v in hist["loss"])
    s = nn.sensitivity(model32, trained, X, output=1)
    assert s.per_example.dtype == np.float32


# -- training -----------------------------------------------------------------------------------------

def _digits_split(seed=0):
    data = datasets.load_digits()
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(data.X, data.y, test_size=0.2, seed=seed, stratify=True)
    X_tr, X_te, _ = datasets.standardize(X_tr, X_te)
    return X_tr, X_te, y_tr, y_te


@needs_sklearn
def test_digits_mlp_reaches_97_percent_held_out():
    X_tr, X_te, y_tr, y_te = _digits_split()
    model = nn.MLP([64, 256, 128, 10], activation="relu")
    params, history = nn.fit(model, model.init(seed=0), X_tr, y_tr, loss="cross_entropy",
                             optimizer=optim.adam(2e-3), epochs=20, batch_size=64, validation=(X_te, y_te),
                             seed=0, verbose=False)
    acc = nn.accuracy(model(params, X_te), y_te)
    assert acc >= 0.97
    assert history["val_accuracy"][-1] == acc
    assert history["loss"][-1] < history["loss"][0] / 10
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 20 for v in history.values())


def _toy_classification(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64) + (X[:, 3] > 1)
    return X, y


def test_fit_is_bitwise_reproducible_with_a_seed():
    X, y = _toy_classification()
    model = nn.MLP([4, 16, 3])
    runs = [nn.fit(model, model.init(0), X, y, optimizer=optim.adam(1e-2), epochs=4, batch_size=16,
                   validation=(X[:30], y[:30]), seed=7, verbose=False) for _ in range(2)]
    (p1, h1), (p2, h2) = runs
    assert h1 == h2                                 # floats compared exactly
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(p1, p2) for k in a)
    _, h3 = nn.fit(model, model.init(0), X, y, optimizer=optim.adam(1e-2), epochs=4, batch_size=16,
                   validation=(X[:30], y[:30]), seed=8, verbose=False)
    assert h3["loss"] != h1["loss"]                 # another seed, another order


def test_fit_history_and_defaults():
    X, y = _toy_classification()
    model = nn.MLP([4, 8, 3])
    p0 = model.init(0)
    params, hist = nn.fit(model, p0, X, y, epochs=2, verbose=False)      # default optimizer: adam(1e-3)
    assert sorted(hist) == ["accuracy", "loss"]
    assert not np.array_equal(params[0]["W"], p0[0]["W"])
    assert np.array_equal(p0[0]["W"], model.init(0)[0]["W"])              # the input is left alone
    Xr = RNG.normal(size=(50, 3))
    _, hist = nn.fit(nn.Linear(3, 1), nn.Linear(3, 1).init(0), Xr, Xr @ [1.0, 2.0, 3.0], loss="mse",
                     optimizer=optim.sgd(0.05), epochs=3, validation=(Xr, Xr @ [1.0, 2.0, 3.0]), verbose=False)
    assert sorted(hist) == ["loss", "val_loss"]
    # binary classification from one logit
    yb = (X[:, 0] > 0).astype(float)
    _, hist = nn.fit(nn.MLP([4, 8, 1]), nn.MLP([4, 8, 1]).init(0), X, yb, loss="binary_cross_entropy",
                     optimizer=optim.adam(1e-2), epochs=5, validation=(X, yb), verbose=False)
    assert hist["val_accuracy"][-1] > 0.8


def test_fit_with_a_custom_loss_function():
    X = RNG.normal(size=(40, 2))
    y = X @ np.array([2.0, -1.0])
    mae = lambda pred, t: pnp.mean(pnp.abs(pnp.reshape(pred, (-1,)) - t))
    params, hist = nn.fit(nn.Linear(2, 1), nn.Linear(2, 1).init(0), X, y, loss=mae, optimizer=optim.adam(0.05),
                          epochs=100, batch_size=40, verbose=False)
    assert hist["loss"][-1] < hist["loss"][0] / 10


def test_fit_errors():
    X, y = _toy_classification()
    model = nn.MLP([4, 8, 3])
    p = model.init(0)
    with pytest.raises(ValueError, match="label 3 is out of range"):
        nn.fit(model, p, X, y + 1, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="120 rows but its targets have 119"):
        nn.fit(model, p, X, y[1:], epochs=1, verbose=False)
    with pytest.raises(ValueError, match="batch_size"):
        nn.fit(model, p, X, y, batch_size=0, verbose=False)
    Xn = X.copy()
    Xn[5, 2] = np.nan
    with pytest.raises(ValueError, match="row 5, column 2"):
        nn.fit(model, p, Xn, y, verbose=False)
    with pytest.raises(FloatingPointError, match="learning rate"), np.errstate(all="ignore"):
        nn.fit(nn.Linear(4, 1), nn.Linear(4, 1).init(0), X * 100, X[:, 0] * 1e3, loss="mse",
               optimizer=optim.sgd(10.0), epochs=50, verbose=False, on_failure="raise")
    with pytest.raises(TypeError, match="init.*update"):
        nn.fit(model, p, X, y, optimizer="adam", verbose=False)


class _FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_lines_and_live_bar():
    X, y = _toy_classification()
    model = nn.MLP([4, 8, 3])
    kw = dict(optimizer=optim.adam(1e-2), epochs=3, batch_size=16, validation=(X, y))
    pipe = io.StringIO()
    nn.fit(model, model.init(0), X, y, out=pipe, **kw)                  # verbose=None: quiet off a terminal
    assert pipe.getvalue() == ""
    pipe = io.StringIO()
    nn.fit(model, model.init(0), X, y, out=pipe, verbose=True, **kw)
    lines = pipe.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in pipe.getvalue()
    assert lines[0].startswith("epoch 1/3") and "loss" in lines[0] and "val_accuracy" in lines[0]
    tty = _FakeTerminal()
    nn.fit(model, model.init(0), X, y, out=tty, **kw)                   # a terminal: live bar, then the line
    text = tty.getvalue()
    assert "\r" in text and "[" in text and text.count("\n") == 3
    quiet = _FakeTerminal()
    nn.fit(model, model.init(0), X, y, out=quiet, verbose=False, **kw)
    assert quiet.getvalue() == ""


# -- linear model: known coefficients, sensitivities ------------------------------------------------

def test_linear_model_recovers_known_coefficients_and_its_sensitivities_equal_them():
    rng = np.random.default_rng(1)
    w_true = np.array([3.0, -2.0, 0.5, 0.0, 1.25])
    b_true = 4.0
    X = rng.normal(size=(400, 5))
    y = X @ w_true + b_true
    model = nn.Linear(5, 1)
    params, hist = nn.fit(model, model.init(0), X, y, loss="mse", optimizer=optim.sgd(0.1, momentum=0.9),
                          epochs=40, batch_size=32, seed=0, verbose=False)
    np.testing.assert_allclose(params["W"][:, 0], w_true, atol=1e-3)
    assert params["b"][0] == pytest.approx(b_true, abs=1e-3)
    names = ["a", "b", "c", "d", "e"]
    s = nn.sensitivity(model, params, X, feature_names=names)
    assert s.per_example.shape == (400, 5) and s.mean_abs.shape == (5,)
    np.testing.assert_allclose(s.per_example, np.broadcast_to(params["W"][:, 0], (400, 5)), rtol=1e-14)
    np.testing.assert_allclose(s.mean, w_true, atol=1e-3)
    np.testing.assert_allclose(s.mean_abs, np.abs(w_true), atol=1e-3)
    assert [names[j] for j in s.ranking()] == ["a", "b", "e", "c", "d"]
    assert list(s.as_dict()) == ["a", "b", "e", "c", "d"]
    assert s.table().splitlines()[1].split()[0] == "a"


def test_sensitivities_undo_the_standardization():
    """Trained on standardized data, reported in units of y per unit of x."""
    rng = np.random.default_rng(2)
    raw = np.column_stack([rng.uniform(50, 250, 300), rng.uniform(0, 80, 300)])     # m^2, years
    price = 50_000 + 3_000 * raw[:, 0] - 500 * raw[:, 1]
    Xs, xs = datasets.standardize(raw)
    ys = datasets.Standardizer.fit(price)
    model = nn.Linear(2, 1)
    params, _ = nn.fit(model, model.init(0), Xs, ys.transform(price), loss="mse",
                       optimizer=optim.sgd(0.1, momentum=0.9), epochs=40, verbose=False)
    s = nn.sensitivity(model, params, Xs, feature_names=["size", "age"], x_scale=xs.scale, y_scale=ys.scale,
                       target_name="price")
    np.testing.assert_allclose(s.mean, [3_000, -500], rtol=1e-6)
    np.testing.assert_allclose(s.per_std, s.mean * raw.std(0), rtol=1e-12)
    assert "d price/d feature, per unit" in s.table() and "per std" in s.table()


def test_sensitivity_per_example_equals_one_gradient_per_example():
    model = nn.MLP([3, 7, 2], activation="tanh")
    params = model.init(0)
    X = RNG.normal(size=(6, 3))
    s = nn.sensitivity(model, params, X, output=1)
    for i in range(6):
        gi = pdx.grad(lambda x: model(params, x[None, :])[0, 1])(X[i])
        np.testing.assert_allclose(s.per_example[i], gi, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s.mean_abs, np.abs(s.per_example).mean(0), rtol=1e-15)
    assert s.feature_names == ("x0", "x1", "x2")
    with pytest.raises(ValueError, match="2 outputs; pass output=k"):
        nn.sensitivity(model, params, X)
    with pytest.raises(ValueError, match="3 feature names for 2 features"):
        nn.sensitivity(nn.Linear(2, 1), nn.Linear(2, 1).init(0), X[:, :2], feature_names=["a", "b", "c"])


# -- data sets and CSV files --------------------------------------------------------------------------

@needs_sklearn
def test_bundled_data_sets_load_without_download():
    digits = datasets.load_digits()
    assert digits.X.shape == (1797, 64) and digits.task == "classification" and digits.n_classes == 10
    X, y = digits
    assert y.dtype == np.int64
    diabetes = datasets.load("diabetes")
    assert diabetes.X.shape == (442, 10) and diabetes.task == "regression" and diabetes.feature_names[0] == "age"
    assert diabetes.X[:, 0].max() > 50                               # original units (years), not scaled
    cancer = datasets.load_breast_cancer()
    assert cancer.X.shape == (569, 30) and cancer.n_classes == 2
    with pytest.raises(ValueError, match="digits, diabetes, breast_cancer"):
        datasets.load("mnist")


def test_train_test_split_and_standardize():
    X = np.arange(200.0).reshape(100, 2)
    y = np.arange(100) % 4
    a = datasets.train_test_split(X, y, test_size=0.25, seed=3)
    b = datasets.train_test_split(X, y, test_size=0.25, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    X_tr, X_te, y_tr, y_te = a
    assert len(X_te) == 25 and len(X_tr) == 75
    assert sorted(np.concatenate([X_tr[:, 0], X_te[:, 0]]).tolist()) == X[:, 0].tolist()
    _, _, _, y_te = datasets.train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    assert np.bincount(y_te).tolist() == [5, 5, 5, 5]
    Z_tr, Z_te, sc = datasets.standardize(X_tr, X_te)
    np.testing.assert_allclose(Z_tr.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z_tr.std(0), 1, rtol=1e-12)
    np.testing.assert_allclose(sc.inverse_transform(Z_te), X_te, rtol=1e-12)
    const = datasets.Standardizer.fit(np.ones((4, 1)))
    assert np.all(const.transform(np.ones((2, 1))) == 0)
    with pytest.raises(ValueError, match="test_size"):
        datasets.train_test_split(X, y, test_size=1.5)


def _write(tmp_path, text, name="houses.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD_CSV = "size,rooms,age,price\n120,3,10,450000\n80.5,2,35,300000\n\n200,5,2,800000\n"


def test_load_csv_good_file(tmp_path):
    d = datasets.load_csv(_write(tmp_path, GOOD_CSV), target="price")
    assert d.feature_names == ["size", "rooms", "age"] and d.target_name == "price"
    np.testing.assert_array_equal(d.X, [[120, 3, 10], [80.5, 2, 35], [200, 5, 2]])
    np.testing.assert_array_equal(d.y, [450000, 300000, 800000])
    assert d.task == "regression" and d.X.dtype == np.float64
    d = datasets.load_csv(_write(tmp_path, GOOD_CSV), target="rooms", features=["size"])
    assert d.task == "regression"                    # three rows, three values: not class labels
    d = datasets.load_csv(_write(tmp_path, "x,grade\n1,3\n2,2\n3,5\n4,3\n5,2\n6,5\n"), target="grade")
    assert d.task == "classification" and d.classes == [2, 3, 5] and d.y.tolist() == [1, 0, 2, 1, 0, 2]
    d = datasets.load_csv(_write(tmp_path, "x,grade\n1,3\n2,2\n"), target="grade", task="classification")
    assert d.classes == [2, 3]
    d = datasets.load_csv(_write(tmp_path, "a,label\n1,cat\n2,dog\n3,cat\n"), target="label")
    assert d.classes == ["cat", "dog"] and d.y.tolist() == [0, 1, 0]
    d = datasets.load_csv(_write(tmp_path, "\ufeffid,x,y\n1,2,3\n2,3,4\n"), target="y", exclude=["id"])
    assert d.feature_names == ["x"]


@pytest.mark.parametrize("text, kwargs, pattern", [
    ("", {}, r"houses\.csv is empty"),
    ("\n  \n", {}, r"houses\.csv is empty"),
    ("size,price\n", {}, r"header \(size, price\) but no data rows"),
    (GOOD_CSV, {"target": "cost"}, r"column 'cost' not found in .*houses\.csv; its columns are: size, rooms, age, "
                                   r"price"),
    (GOOD_CSV, {"target": "Price"}, r"Did you mean 'price'"),
    ("size,price\n120,450000\nbig,300000\n", {}, r"line 3 \(data row 2\), column 'size': 'big' is not a number"),
    ("size,price\n120,450000\nnan,300000\n", {}, r"line 3 \(data row 2\), column 'size': a missing value \('nan'\)"),
    ("size,price\n120,450000\n,300000\n", {}, r"line 3 \(data row 2\), column 'size': an empty cell"),
    ("size,price\n120,\n", {}, r"line 2 \(data row 1\), column 'price': an empty cell"),
    ("size,price\n1,inf\n", {}, r"column 'price': 'inf' is not a finite number"),
    ("size,city,price\n1,Paris,3\n2,Lyon,4\n", {"categorical": "none"},
     r"column 'city' holds text \('Paris', 'Lyon'.*line 2, data row 1.*categorical.*one-hot"),
    ("size,price\n1,2\n3,4,5\n", {}, r"line 3: 3 fields, but the header has 2 columns"),
    ("size,size,price\n1,2,3\n", {}, r"'size' more than once"),
])
def test_load_csv_errors_name_the_place(tmp_path, text, kwargs, pattern):
    kwargs = {"target": "price", **kwargs}
    with pytest.raises(ValueError, match=pattern):
        datasets.load_csv(_write(tmp_path, text), **kwargs)


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)          # import sklearn now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "partiald\[data\]"'):
        datasets.load_digits()


def test_missing_matplotlib_is_a_clear_cli_error(tmp_path, monkeypatch, capsys):
    from partiald.cli import main
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    err = io.StringIO()
    status = main(["train", "--csv", str(_houses(tmp_path, 20)), "--target", "price", "--plot",
                   str(tmp_path / "c.png")], out=io.StringIO(), err=err)
    assert status == 2
    assert 'needs matplotlib' in err.getvalue() and 'pip install "partiald[plot]"' in err.getvalue()


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        datasets.load_csv(tmp_path / "nope.csv", target="y")


# -- the command line ---------------------------------------------------------------------------------

def _train(*args):
    return subprocess.run([sys.executable, "-m", "partiald", "train", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def _houses(tmp_path, n=200):
    rng = np.random.default_rng(0)
    size, rooms, age = rng.uniform(50, 250, n), rng.integers(1, 7, n), rng.uniform(0, 80, n)
    price = 50_000 + 3_000 * size + 10_000 * rooms - 500 * age
    lines = ["size,rooms,age,price"] + [f"{a:.4f},{b},{c:.4f},{d:.4f}" for a, b, c, d in zip(size, rooms, age, price)]
    return _write(tmp_path, "\n".join(lines) + "\n")


@needs_sklearn
def test_cli_trains_on_digits(tmp_path):
    r = _train("--dataset", "digits", "--hidden", "32", "--epochs", "2", "--batch-size", "64")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "digits, 1797 examples, 64 features, 10 classes" in out
    assert "MLP 64-32-10" in out
    assert "epoch 1/2" in out and "epoch 2/2" in out and "val_accuracy" in out
    assert "test accuracy: 0." in out
    assert r.stderr == ""


def test_cli_regression_on_a_csv_prints_partial_derivatives_in_target_units(tmp_path):
    csv = _houses(tmp_path)
    r = _train("--csv", csv, "--target", "price", "--model", "linear", "--optimizer", "sgd", "--lr", "0.05",
               "--epochs", "60", "--quiet")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "epoch 1/" not in out                               # --quiet
    assert "test RMSE:" in out and "test R^2: 1.0000" in out
    table = out[out.index("\nfeature ") + 1:].splitlines()
    rows = {line.split()[0]: float(line.split()[1]) for line in table[1:4]}
    assert [line.split()[0] for line in table[1:4]] == ["size", "rooms", "age"]     # by effect per std
    assert rows["rooms"] == pytest.approx(10_000, rel=1e-3)
    assert rows["size"] == pytest.approx(3_000, rel=1e-3)
    assert rows["age"] == pytest.approx(-500, rel=1e-3)


@pytest.mark.skipif(not _has("matplotlib"), reason="needs matplotlib")
def test_cli_plot_saves_the_loss_curve(tmp_path):
    png = tmp_path / "curve.png"
    r = _train("--csv", _houses(tmp_path, 60), "--target", "price", "--epochs", "20", "--hidden", "8",
               "--lr", "0.01", "--dtype", "float32", "--plot", png)
    assert r.returncode == 0, r.stderr
    assert png.exists() and png.stat().st_size > 1000
    assert f"loss curve saved to {png}" in r.stdout
    assert "float32" in r.stdout and "test R^2" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--csv", "{houses}", "--target", "cost"], r"column 'cost' not found in .*its columns are: size, rooms, age, "
                                                r"price"),
    (["--csv", "{bad}", "--target", "price"], r"line 3 \(data row 2\), column 'size': 'big' is not a number"),
    (["--csv", "{missing}", "--target", "price"], r"cannot read .*nope\.csv"),
    (["--csv", "{houses}"], r"--csv needs --target"),
    ([], r"give one data source"),
    (["--dataset", "mnist"], r"unknown data set 'mnist'.*digits"),
    (["--csv", "{houses}", "--target", "price", "--epochs", "0"], r"--epochs must be at least 1"),
    (["--csv", "{houses}", "--target", "price", "--hidden", "a,b"], r"--hidden takes layer sizes"),
    (["--csv", "{houses}", "--target", "price", "--activation", "swish"], r"unknown activation 'swish'"),
    (["--csv", "{houses}", "--target", "price", "--plot", "{nodir}"], r"--plot .* does not exist"),
    (["--csv", "{houses}", "--target", "price", "--model", "deep"], r"invalid choice: 'deep'"),
])
def test_cli_bad_input_exits_2_without_a_traceback(tmp_path, args, message):
    paths = {"houses": _houses(tmp_path, 20), "bad": _write(tmp_path, "size,price\n1,2\nbig,3\n", "bad.csv"),
             "missing": tmp_path / "nope.csv", "nodir": tmp_path / "no" / "such" / "dir" / "c.png"}
    r = _train(*[a.format(**paths) for a in args])
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.startswith("partiald: error:")
    assert len(r.stderr.strip().splitlines()) == 1
    assert re.search(message, r.stderr), r.stderr


# -- docstring examples -------------------------------------------------------------------------------

@pytest.mark.parametrize("module", [nn_layers, nn_losses, nn_training, nn_sensitivities],
                         ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
                             extraglobs={"np": np})
    assert result.attempted > 0 and result.failed == 0
