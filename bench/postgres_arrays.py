"""What sending a fenced write's rows to PostgreSQL costs the daemon, per array format.

    .venv/bin/python bench/postgres_arrays.py [--sizes 100,1000,10000] [--repeats 20]

A replica writes its changed rows in one statement (`PostgresCoordination.fenced_write`): five
arrays (shard, kind, key, data, checksum) unnested by the server. For N provider rows of a
fleet with 10 models each (the rows `StateManager` would write), this measures psycopg's
adaptation of those five arrays, the CPU the daemon spends before anything is sent, in
PostgreSQL's text array format (`%s`: every element quoted and escaped in Python) and in its
binary format (`%b`: each element sent as it is, with its length), and checks on the local
server that both arrive as the same text[]. Prints the median of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg
from psycopg.adapt import PyFormat, Transformer

from modelmesh_healthd.state import initial_state
from modelmesh_healthd.storage.row_encode import PROVIDER, row_for
from persistence import fleet

URL = "postgresql://postgres@127.0.0.1:5432/test"


def arrays(size: int) -> list[list[str | None]]:
    """The five arrays of a write of `size` provider rows."""
    mesh = fleet(size)
    state = initial_state(mesh)
    rows = [row_for(state, mesh, PROVIDER, name) for name in sorted(mesh.providers)]
    return [
        [r.key for r in rows],
        [r.kind for r in rows],
        [r.key for r in rows],
        [r.data for r in rows],
        [r.checksum for r in rows],
    ]


def adapt_ms(conn: psycopg.Connection, params: list[list[str | None]], fmt: PyFormat) -> float:
    """CPU milliseconds psycopg takes to adapt `params` in `fmt`."""
    tx = Transformer(conn)
    start = time.process_time()
    for value in params:
        tx.get_dumper(value, fmt).dump(value)
    return (time.process_time() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with psycopg.connect(URL, autocommit=True) as conn:
        head = ("rows", "bytes of data", "text %s ms", "binary %b ms", "ratio")
        print("{:>6} {:>14} {:>11} {:>13} {:>7}".format(*head))
        for size in (int(s) for s in args.sizes.split(",")):
            params = arrays(size)
            same = conn.execute("SELECT %s::text[] = %b::text[]", (params[3], params[3])).fetchone()
            assert same == (True,), "the two formats arrive differently"
            text = statistics.median(
                adapt_ms(conn, params, PyFormat.TEXT) for _ in range(args.repeats)
            )
            binary = statistics.median(
                adapt_ms(conn, params, PyFormat.BINARY) for _ in range(args.repeats)
            )
            size_b = sum(len(d or "") for d in params[3])
            print(f"{size:>6} {size_b:>14,} {text:>11.2f} {binary:>13.2f} {text / binary:>6.0f}x")


if __name__ == "__main__":
    main()
