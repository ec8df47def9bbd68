// An indexed binary min-heap of timer owners keyed by their earliest deadline. Each
// owner knows its slot, so re-arming a timer is O(log n) and nothing is left behind
// (the heap never holds more entries than there are connections with a timer).

export class TimerEntry {
  /** Absolute deadline (ns), 0 = no timer. */
  deadline: u64 = 0;
  /** Slot in the heap, -1 = not queued. */
  heapIndex: i32 = -1;
}

export class TimerHeap {
  items: Array<TimerEntry> = new Array<TimerEntry>();

  @inline get size(): i32 { return this.items.length; }

  /** The entry with the earliest deadline, or null. */
  @inline top(): TimerEntry | null { return this.items.length > 0 ? unchecked(this.items[0]) : null; }

  /** Places `e` according to its (changed) deadline; deadline 0 removes it. */
  update(e: TimerEntry): void {
    if (e.deadline == 0) { this.remove(e); return; }
    const i = e.heapIndex;
    if (i < 0) {
      e.heapIndex = this.items.length;
      this.items.push(e);
      this.up(e.heapIndex);
    } else {
      this.up(i);
      this.down(e.heapIndex);
    }
  }

  remove(e: TimerEntry): void {
    const i = e.heapIndex;
    if (i < 0) return;
    const last = this.items.pop();
    e.heapIndex = -1;
    if (last !== e) {
      unchecked(this.items[i] = last);
      last.heapIndex = i;
      this.up(i);
      this.down(last.heapIndex);
    }
  }

  private up(i: i32): void {
    const items = this.items;
    const e = unchecked(items[i]);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = unchecked(items[p]);
      if (pe.deadline <= e.deadline) break;
      unchecked(items[i] = pe);
      pe.heapIndex = i;
      i = p;
    }
    unchecked(items[i] = e);
    e.heapIndex = i;
  }

  private down(i: i32): void {
    const items = this.items;
    const n = items.length;
    const e = unchecked(items[i]);
    while (true) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && unchecked(items[c + 1]).deadline < unchecked(items[c]).deadline) c++;
      const ce = unchecked(items[c]);
      if (ce.deadline >= e.deadline) break;
      unchecked(items[i] = ce);
      ce.heapIndex = i;
      i = c;
    }
    unchecked(items[i] = e);
    e.heapIndex = i;
  }
}
