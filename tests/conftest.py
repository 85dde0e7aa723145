"""Fixtures shared by several test modules."""
import pytest
import torch


class ConstantRow(torch.nn.Module):
    """Reconstructs every row as a fixed row: errors are known in closed form."""

    def __init__(self, row):
        super().__init__()
        self.row = torch.nn.Parameter(torch.as_tensor(row, dtype=torch.float32), requires_grad=False)

    def forward(self, x):
        return self.row.expand_as(x)


@pytest.fixture
def toy_rows():
    """A model that reconstructs every row as zeros, and four rows whose errors are easy to compute."""
    X = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    return ConstantRow([0.0, 0.0, 0.0]), X
