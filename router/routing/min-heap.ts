// A binary min-heap ordered by a comparator: Dijkstra's frontier, so route
// computation stays O(E log V) on large meshes instead of scanning every
// router for the closest one at each step.

export class MinHeap<T> {
  private readonly items: T[] = [];
  private readonly compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.compare = compare;
  }

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    this.items.push(item);
    this.siftUp(this.items.length - 1);
  }

  /** Removes and returns the smallest item, or undefined when empty. */
  pop(): T | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (top === undefined || last === undefined) return undefined;
    if (this.items.length > 0) {
      this.items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private less(i: number, j: number): boolean {
    return this.compare(this.at(i), this.at(j)) < 0;
  }

  private at(index: number): T {
    // Callers only pass indices within bounds; the check satisfies noUncheckedIndexedAccess honestly.
    const item = this.items[index];
    if (item === undefined) throw new Error(`heap index ${index} out of range`);
    return item;
  }

  private swap(i: number, j: number): void {
    const itemI = this.at(i);
    this.items[i] = this.at(j);
    this.items[j] = itemI;
  }

  private siftUp(index: number): void {
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.less(child, parent)) return;
      this.swap(child, parent);
      child = parent;
    }
  }

  private siftDown(index: number): void {
    let parent = index;
    for (;;) {
      const smallest = this.smallestOf(parent, 2 * parent + 1, 2 * parent + 2);
      if (smallest === parent) return;
      this.swap(parent, smallest);
      parent = smallest;
    }
  }

  private smallestOf(parent: number, left: number, right: number): number {
    let smallest = parent;
    if (left < this.items.length && this.less(left, smallest)) smallest = left;
    if (right < this.items.length && this.less(right, smallest)) smallest = right;
    return smallest;
  }
}
