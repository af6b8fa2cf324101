import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def test_plot_renders_png():
    figure, axes = plt.subplots()
    axes.barh(["cold", "warm"], [30, 5])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    assert buffer.getvalue().startswith(b"\x89PNG")
