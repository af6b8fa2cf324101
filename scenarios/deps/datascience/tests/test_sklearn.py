import numpy as np
from sklearn.linear_model import LinearRegression


def test_linear_regression_recovers_slope():
    x = np.arange(20, dtype=float).reshape(-1, 1)
    y = 3 * x.ravel() + 2
    model = LinearRegression().fit(x, y)
    assert abs(model.coef_[0] - 3) < 1e-9
