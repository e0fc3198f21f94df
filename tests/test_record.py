"""dnnl_py.record: the value classes the problems and the model layer are made of behave
as dataclasses.dataclass's do (the primitive cache's keys depend on it)."""
import pytest

from dnnl_py.record import field, fields, record


@record(frozen=True)
class Point:
    """A frozen record with a default."""
    x: int
    y: tuple = (1,)


@record(frozen=True)
class Point3(Point):
    """Fields of the base first."""
    z: int = 0


@record
class Bag:
    """A mutable record with a per-instance default."""
    name: str
    items: list = field(default_factory=list)


def test_init_defaults_and_keywords():
    assert (Point(1).x, Point(1).y) == (1, (1,))
    assert Point(y=(2,), x=3) == Point(3, (2,))
    assert fields(Point) == ("x", "y") and fields(Point3) == ("x", "y", "z")
    assert Point3(1, (2,), 3).z == 3 and fields(int) is None
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        Point()
    with pytest.raises(TypeError, match="takes 2 arguments"):
        Point(1, 2, 3)
    with pytest.raises(TypeError, match="'w'"):
        Point(1, w=2)
    with pytest.raises(TypeError, match="'x'"):
        Point(1, x=2)


def test_equality_hash_and_repr():
    assert Point(1) == Point(1) and Point(1) != Point(2)
    assert hash(Point(1)) == hash(Point(1))
    assert Point3(1) != Point(1)  # another class is never equal, as dataclass
    assert {Point(1): "a"}[Point(1)] == "a"
    assert repr(Point3(1)) == "Point3(x=1, y=(1,), z=0)"


def test_frozen_and_mutable():
    p = Point(1)
    with pytest.raises(AttributeError, match="frozen"):
        p.x = 2
    with pytest.raises(AttributeError, match="frozen"):
        del p.x
    a, b = Bag("a"), Bag("a")
    a.items.append(1)
    assert b.items == [] and a != b  # each instance its own list
    a.name = "c"
    assert a.name == "c"
    with pytest.raises(TypeError):
        hash(a)  # mutable and compared by value: unhashable


def test_default_before_required_is_refused():
    with pytest.raises(TypeError, match="without a default"):
        @record
        class Bad:
            a: int = 0
            b: int
