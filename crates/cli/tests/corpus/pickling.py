import pickle
from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int


def scale(p, k):
    return Point(p.x * k, p.y * k)


data = pickle.dumps((Point(1, 2), scale))
point, function = pickle.loads(data)
print(point, function(point, 3), function is scale)
print(Point.__module__, Point.__qualname__)
