import pandas as pd


def test_groupby_medians():
    frame = pd.DataFrame(
        {"scenario": ["pip", "pip", "venv", "venv"], "seconds": [10.0, 12.0, 3.0, 5.0]}
    )
    medians = frame.groupby("scenario")["seconds"].median()
    assert medians.to_dict() == {"pip": 11.0, "venv": 4.0}
