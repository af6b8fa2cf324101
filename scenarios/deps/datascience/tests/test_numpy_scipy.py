import numpy as np
from scipy import linalg, optimize


def test_solve_and_minimize():
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([9.0, 8.0])
    assert np.allclose(linalg.solve(a, b), [2.0, 3.0])
    result = optimize.minimize_scalar(lambda x: (x - 1.5) ** 2)
    assert abs(result.x - 1.5) < 1e-6
