"""Protocol time (oml_core/chain/clock.py): wall time, or the chain's when the chain runs ahead."""
from oml_core.chain.clock import ChainClock


class Fake:
    def __init__(self, wall: float, head: int):
        self.wall, self.head, self.reads, self.down = wall, head, 0, False

    def read_head(self) -> int:
        self.reads += 1
        if self.down:
            raise ConnectionError("node down")
        return self.head


def clock_of(fake: Fake, refresh_s: float = 1.0) -> ChainClock:
    return ChainClock(fake.read_head, refresh_s, wall=lambda: fake.wall)


def test_never_behind_the_wall_clock_and_follows_a_chain_ahead():
    fake = Fake(wall=1_000.0, head=900)  # a lagging node cannot pull stamps into the past
    clock = clock_of(fake)
    assert clock() == 1_000.0
    fake.head, fake.wall = 1_500, 1_000.5  # a dev chain moved 500 s ahead
    assert clock() == 1_000.5  # not re-read within refresh_s
    fake.wall = 1_003.5
    assert clock() == 1_500.0 and fake.reads == 2
    fake.wall = 1_004.0
    assert clock() == 1_500.5  # keeps running with the wall clock between reads


def test_a_block_seen_elsewhere_moves_it_at_once_and_a_failed_read_keeps_the_last_offset():
    fake = Fake(wall=1_000.0, head=1_000)
    clock = clock_of(fake, refresh_s=10.0)
    assert clock() == 1_000.0
    clock.observe(1_200)  # the permission service's mirror applied a block 200 s ahead
    assert clock() == 1_200.0
    fake.down, fake.wall = True, 1_020.0
    assert clock() == 1_220.0  # the node is down: the last offset stands
