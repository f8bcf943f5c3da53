"""Cycle-exact timing of a streaming RTL design: every handshake of the generated Verilog, simulated on tokens.

Each element below is the Python twin of one Verilog module (edgecc_stream_ctrl, edgecc_window, edgecc_gather,
edgecc_fork, edgecc_fifo, the top's input register) and follows it signal for signal: valids are computed
forward, readies backward, then every channel whose valid and ready are both high transfers, and each element
updates its registers. Cycles where nothing transfers are skipped in one step where every element can say how
long it would stay as it is (a folded unit counting its phases, a window stepping through padding, the input's
frame gap). The results: each frame's latency (its first input token to its last output token), the frame
period the input is gated to (so that every frame sees an empty design and takes exactly that latency), and the
largest occupancy of every FIFO (their depths).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

INF = math.inf


class Channel:
    __slots__ = ("name", "valid", "ready", "fire")

    def __init__(self, name: str):
        self.name = name
        self.valid = self.ready = self.fire = False


class Element:
    inputs: list[Channel]
    outputs: list[Channel]

    def forward(self) -> None: ...
    def backward(self) -> None: ...
    def tick(self, cycle: int) -> None: ...

    def idle_for(self) -> float:
        """Cycles this element stays as it is if no channel transfers (INF: until one does)."""
        return INF

    def skip(self, n: int) -> None:
        """n cycles without any transfer."""


class Source(Element):
    """The top's input register: accepts `frames` frames of `tokens` tokens, the first token of a frame no
    sooner than `period` cycles after the previous frame's first."""

    def __init__(self, out: Channel, tokens: int, frames: int, period: int):
        self.inputs, self.outputs = [], [out]
        self.tokens, self.frames, self.period = tokens, frames, period
        self.x_valid, self.pc, self.gap, self.sent = False, 0, 0, 0
        self.accepted: list[int] = []

    def forward(self):
        self.outputs[0].valid = self.x_valid

    def backward(self):
        out = self.outputs[0]
        self.room = (not self.x_valid) or out.ready
        self.open = self.pc != 0 or self.gap == 0
        self.offer = self.sent < self.tokens * self.frames
        self.accept = self.offer and self.room and self.open

    def tick(self, cycle):
        if self.room:
            self.x_valid = self.offer and self.open
        if self.accept:
            self.accepted.append(cycle)
            self.sent += 1
            if self.pc == 0:
                self.gap = self.period - 1
            elif self.gap:
                self.gap -= 1
            self.pc = (self.pc + 1) % self.tokens
        elif self.gap:
            self.gap -= 1

    def idle_for(self):
        return self.gap if self.gap else INF   # a closed input opens when its gap runs out

    def skip(self, n):
        if self.room:
            self.x_valid = self.offer and self.open
        self.gap = max(0, self.gap - n)


class Core(Element):
    """edgecc_stream_ctrl: STAGES registers that move together; II > 1 runs II phases per input."""

    def __init__(self, inputs: list[Channel], out: Channel, stages: int, ii: int):
        self.inputs, self.outputs = inputs, [out]
        self.stages, self.ii = stages, ii
        self.valid = [False] * stages
        self.count = 0

    def forward(self):
        self.outputs[0].valid = self.valid[-1]

    def backward(self):
        in_valid = all(c.valid for c in self.inputs)
        room = (not self.valid[-1]) or self.outputs[0].ready
        if self.ii == 1:
            en = adv = room
        else:
            last = self.count == self.ii - 1
            en = in_valid and (room or not last)
            adv = en and last
        self.in_valid, self.en, self.adv = in_valid, en, adv
        for c in self.inputs:
            c.ready = adv and (in_valid if len(self.inputs) > 1 else True)

    def tick(self, cycle):
        if self.ii > 1 and self.en:
            self.count = 0 if self.adv else self.count + 1
        if self.adv:
            self.valid = [self.in_valid] + self.valid[:-1]
        elif self.outputs[0].ready:
            self.valid[-1] = False

    def idle_for(self):
        if self.ii > 1:   # counting phases until the last one, which takes the input
            return self.ii - 1 - self.count if self.en and not self.adv else INF
        if self.adv and any(self.valid):   # bubbles move on until a result reaches the output register
            return self.stages - 1 - max(i for i, v in enumerate(self.valid) if v)
        return INF

    def skip(self, n):
        if self.ii > 1:
            if self.en and not self.adv:
                self.count += n
        elif self.adv:
            self.valid = [False] * min(n, self.stages) + self.valid[:max(self.stages - n, 0)]


class Passthrough(Element):
    """A unit without registers: its output is its input's handshake."""

    def __init__(self, inp: Channel, out: Channel):
        self.inputs, self.outputs = [inp], [out]

    def forward(self):
        self.outputs[0].valid = self.inputs[0].valid

    def backward(self):
        self.inputs[0].ready = self.outputs[0].ready


class WindowGen(Element):
    """edgecc_window: steps through the padded raster, one position per cycle (a real pixel when one is offered,
    padding at once), and writes the window into its output register where a window ends."""

    def __init__(self, inp: Channel, out: Channel, w):
        self.inputs, self.outputs = [inp], [out]
        self.real, self.emit = raster(w)
        self.n = len(self.real)
        # from reset as after a frame: the padding before the first pixel already stepped (its taps hold `fill`)
        self.pos = self.start = start_position(w)
        self.out_valid = False

    def forward(self):
        self.outputs[0].valid = self.out_valid

    def backward(self):
        room = (not self.out_valid) or self.outputs[0].ready
        real, emit = self.real[self.pos], self.emit[self.pos]
        self.inputs[0].ready = real and (room if emit else True)
        self.step = (self.inputs[0].valid if real else True) and (room if emit else True)
        self.writes = self.step and emit

    def tick(self, cycle):
        if self.step:
            self.pos = (self.pos + 1) % self.n
        if self.writes:
            self.out_valid = True
        elif self.outputs[0].ready:
            self.out_valid = False

    def idle_for(self):
        if not self.step:
            return INF            # waiting for a pixel or for room
        if self.writes:
            return 1              # a padding position that ends a window: its output register fills
        k, pos = 0, self.pos      # padding positions that end no window: one per cycle, nothing else happens
        while not self.real[pos] and not self.emit[pos] and k < self.n:
            k += 1
            pos = (pos + 1) % self.n
        return k

    def skip(self, n):
        if self.writes:
            self.out_valid = True
        if self.step:
            self.pos = (self.pos + n) % self.n


def raster(w) -> tuple[list[bool], list[bool]]:
    """For each position of the padded raster: whether it is a pixel of the input, whether a window ends there."""
    hp, wp = w.padded
    span_y = (w.kernel[0] - 1) * w.dilations[0]
    span_x = (w.kernel[1] - 1) * w.dilations[1]
    real, emit = [], []
    for pos in range(hp * wp):
        y, x = divmod(pos, wp)
        real.append(w.pads[0] <= y < w.pads[0] + w.in_spatial[0] and w.pads[1] <= x < w.pads[1] + w.in_spatial[1])
        oy, ox = y - span_y, x - span_x
        emit.append(oy >= 0 and ox >= 0 and oy % w.strides[0] == 0 and ox % w.strides[1] == 0
                    and oy // w.strides[0] < w.out_spatial[0] and ox // w.strides[1] < w.out_spatial[1])
    return real, emit


def start_position(w) -> int:
    """The first position of the padded raster that needs a pixel or ends a window."""
    real, emit = raster(w)
    return next((p for p in range(len(real)) if real[p] or emit[p]), 0)


class GatherUnit(Element):
    """edgecc_gather: `count` tokens side by side; the last one writes the vector into the output register."""

    def __init__(self, inp: Channel, out: Channel, count: int):
        self.inputs, self.outputs = [inp], [out]
        self.count, self.k, self.out_valid = count, 0, False

    def forward(self):
        self.outputs[0].valid = self.out_valid

    def backward(self):
        room = (not self.out_valid) or self.outputs[0].ready
        self.last = self.k == self.count - 1
        self.inputs[0].ready = (not self.last) or room

    def tick(self, cycle):
        fire = self.inputs[0].fire
        if fire:
            self.k = 0 if self.last else self.k + 1
        if fire and self.last:
            self.out_valid = True
        elif self.outputs[0].ready:
            self.out_valid = False


class Fork(Element):
    """edgecc_fork: one value to several readers; taken when all have."""

    def __init__(self, inp: Channel, outs: list[Channel]):
        self.inputs, self.outputs = [inp], outs
        self.taken = [False] * len(outs)

    def forward(self):
        v = self.inputs[0].valid
        for c, t in zip(self.outputs, self.taken):
            c.valid = v and not t

    def backward(self):
        self.inputs[0].ready = all(t or c.ready for c, t in zip(self.outputs, self.taken))

    def tick(self, cycle):
        if self.inputs[0].fire:
            self.taken = [False] * len(self.outputs)
        else:
            self.taken = [t or c.fire for c, t in zip(self.outputs, self.taken)]


class Fifo(Element):
    """edgecc_fifo of `depth` entries (None: unbounded, to measure the occupancy a depth must hold)."""

    def __init__(self, inp: Channel, out: Channel, depth: int | None):
        self.inputs, self.outputs = [inp], [out]
        self.depth, self.count, self.peak = depth, 0, 0

    def forward(self):
        self.outputs[0].valid = self.count > 0

    def backward(self):
        self.inputs[0].ready = self.depth is None or self.count != self.depth

    def tick(self, cycle):
        self.count += int(self.inputs[0].fire) - int(self.outputs[0].fire)
        self.peak = max(self.peak, self.count)


class Sink(Element):
    """The testbench: always ready; records when each output token is taken."""

    def __init__(self, inp: Channel):
        self.inputs, self.outputs = [inp], []
        self.taken: list[int] = []

    def backward(self):
        self.inputs[0].ready = True

    def tick(self, cycle):
        if self.inputs[0].fire:
            self.taken.append(cycle)


@dataclass
class Network:
    """Elements in topological order (producers before readers), the source, the sink, the FIFOs by edge."""

    elements: list[Element]
    source: Source
    sink: Sink
    fifos: dict

    def run(self, out_tokens: int, frames: int, limit: int) -> list[int]:
        """Simulate until `frames` frames have left; returns each frame's latency."""
        channels = {id(c): c for e in self.elements for c in e.inputs + e.outputs}.values()
        cycle = 0
        want = out_tokens * frames
        while len(self.sink.taken) < want:
            if cycle > limit:
                raise RuntimeError(f"the stream did not finish {frames} frame(s) in {limit} cycles "
                                   f"({len(self.sink.taken)} of {want} output tokens)")
            for e in self.elements:
                e.forward()
            for e in reversed(self.elements):
                e.backward()
            fired = self.source.accept   # the testbench's transfer into the input register
            for c in channels:
                c.fire = c.valid and c.ready
                fired |= c.fire
            if fired:
                for e in self.elements:
                    e.tick(cycle)
                cycle += 1
                continue
            # nothing moves: every element evolves on its own for as long as the quietest allows
            quiet = min(e.idle_for() for e in self.elements)
            if quiet == INF:
                raise RuntimeError(f"the stream stopped at cycle {cycle} with {len(self.sink.taken)} of {want} "
                                   "output tokens: a deadlock")
            for e in self.elements:
                e.skip(int(quiet))
            cycle += int(quiet)
        firsts = self.source.accepted[::self.source.tokens]
        lasts = self.sink.taken[out_tokens - 1::out_tokens]
        return [last - first for first, last in zip(firsts, lasts)]


@dataclass(frozen=True)
class Stage:
    """One element of the design as the builder sees it: what it reads and writes (token-graph tensors)."""

    kind: str            # "core", "window", "gather"
    name: str
    inputs: tuple
    output: str
    stages: int = 1
    ii: int = 1
    spec: object = None  # the Window or Gather


def network(stages: list[Stage], hw_input: str, output: str, in_tokens: int, frames: int, period: int,
            fifos: dict[tuple[str, str], int | None]) -> Network:
    """The elements of a design in topological order: the source, every stage (a fork where a value has several
    readers, a FIFO on the edges given: (tensor, reader) -> depth or None for unbounded), the sink."""
    produced: dict[str, Channel] = {}
    readers: dict[str, list[str]] = {}
    for st in stages:
        for t in st.inputs:
            readers.setdefault(t, []).append(st.name)
    readers.setdefault(output, []).append("")
    elements: list[Element] = []
    fifo_elems = {}
    taps: dict[tuple[str, str], Channel] = {}   # (tensor, reader) -> the channel the reader reads

    def publish(tensor: str, ch: Channel) -> None:
        names = readers.get(tensor, [])
        outs = [Channel(f"{tensor}->{r}") for r in names]
        if len(outs) == 1:
            outs = [ch]
        else:
            elements.append(Fork(ch, outs))
        for r, c in zip(names, outs):
            if (tensor, r) in fifos:
                q = Channel(f"{tensor}->fifo->{r}")
                f = Fifo(c, q, fifos[(tensor, r)])
                elements.append(f)
                fifo_elems[(tensor, r)] = f
                c = q
            taps[(tensor, r)] = c
        produced[tensor] = ch

    src_ch = Channel(hw_input)
    source = Source(src_ch, in_tokens, frames, period)
    elements.append(source)
    publish(hw_input, src_ch)
    for st in stages:
        ins = [taps[(t, st.name)] for t in st.inputs]
        out = Channel(st.output)
        if st.kind == "window":
            elements.append(WindowGen(ins[0], out, st.spec))
        elif st.kind == "gather":
            elements.append(GatherUnit(ins[0], out, st.spec.count))
        elif st.stages == 0:
            elements.append(Passthrough(ins[0], out))
        else:
            elements.append(Core(ins, out, st.stages, st.ii))
        publish(st.output, out)
    sink = Sink(taps[(output, "")])
    elements.append(sink)
    return Network(elements, source, sink, fifo_elems)
