"""A small inventory module: the sample that `starcoder-ls demo` completes in."""

from dataclasses import dataclass


@dataclass
class Item:
    name: str
    price: float
    quantity: int = 0


def add(a, b):
    return a + b


def total_value(items: list[Item]) -> float:
    """Sum of price times quantity over all items."""
    return sum(item.price * item.quantity for item in items)


def find_item(items: list[Item], name: str) -> Item | None:
    for item in items:
        if item.name == name:
            return item
    return None


def restock(items: list[Item], name: str, amount: int) -> None:
    item = find_item(items, name)
    if item is None:
        raise KeyError(name)
    item.quantity += amount


if __name__ == "__main__":
    stock = [Item("apple", 0.5, 10), Item("pear", 0.75, 4)]
    print(total_value(stock))
