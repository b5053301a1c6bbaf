import { expect } from 'chai';
import { WeightedQueue } from '../../src/internal/WeightedQueue.js';

/** The queue's arrays, to see whether it allocates. */
function arraysOf<T>(queue: WeightedQueue<T>): { items: T[]; weights: number[] } {
  return queue as unknown as { items: T[]; weights: number[] };
}

describe('WeightedQueue', () => {
  it('keeps order, size and weight, and lets go of each item as it is taken', () => {
    const queue = new WeightedQueue<object>();
    const items = [{ a: 1 }, { b: 2 }, { c: 3 }];
    items.forEach((item, i) => queue.push(item, i + 1));
    expect([queue.size, queue.weight]).to.deep.equal([3, 6]);
    expect(queue.shift()).to.equal(items[0]);
    expect(arraysOf(queue).items[0]).to.equal(undefined);
    expect([queue.size, queue.weight]).to.deep.equal([2, 5]);
    expect([queue.shift(), queue.shift()]).to.deep.equal([items[1], items[2]]);
    expect([queue.size, queue.weight]).to.deep.equal([0, 0]);
  });

  it('at(i) reads the item i places after the oldest, also after takes and a compaction', () => {
    const queue = new WeightedQueue<number>();
    for (let i = 0; i < 3000; i++) queue.push(i, 0);
    expect([queue.at(0), queue.at(2999)]).to.deep.equal([0, 2999]);
    for (let i = 0; i < 2000; i++) queue.shift();
    expect([queue.at(0), queue.at(999), queue.size]).to.deep.equal([2000, 2999, 1000]);
  });

  it('allocates nothing per item while it stays small: an emptied queue reuses its arrays', () => {
    const queue = new WeightedQueue<number>();
    queue.push(0, 1);
    queue.shift();
    const { items, weights } = arraysOf(queue);
    for (let i = 1; i < 10_000; i++) {
      queue.push(i, 1);
      queue.push(i, 1);
      queue.shift();
      queue.shift();
    }
    expect(arraysOf(queue).items).to.equal(items);
    expect(arraysOf(queue).weights).to.equal(weights);
    expect(items.length).to.be.at.most(4);
  });

  it('lets large arrays go once emptied, and compacts a queue that never empties', () => {
    const queue = new WeightedQueue<number>();
    for (let i = 0; i < 5000; i++) queue.push(i, 1);
    const big = arraysOf(queue).items;
    for (let i = 0; i < 5000; i++) expect(queue.shift()).to.equal(i);
    expect(arraysOf(queue).items).to.not.equal(big);
    expect(arraysOf(queue).items.length, 'an idle queue keeps at most 64 slots').to.be.at.most(64);

    // Never empty: one in, one out, 100,000 times; the arrays stay bounded.
    queue.push(-1, 1);
    for (let i = 0; i < 100_000; i++) {
      queue.push(i, 1);
      expect(queue.shift()).to.equal(i - 1 < 0 ? -1 : i - 1);
    }
    expect(queue.size).to.equal(1);
    expect(arraysOf(queue).items.length).to.be.below(3000);
  });

  it('reweigh() weighs the waiting items again, and they leave with their new weights', () => {
    const queue = new WeightedQueue<string>();
    for (const item of ['gone', 'ab', 'abcd', 'abcdefgh']) queue.push(item, 100);
    queue.shift();
    queue.reweigh((item) => item.length);
    expect([queue.size, queue.weight]).to.deep.equal([3, 14]);
    queue.shift();
    expect(queue.weight).to.equal(12);
    queue.push('x', 1);
    expect([queue.shift(), queue.shift(), queue.weight]).to.deep.equal(['abcd', 'abcdefgh', 1]);
  });

  it('clear() drops every item and starts again', () => {
    const queue = new WeightedQueue<object>();
    const item = {};
    queue.push(item, 5);
    queue.push(item, 5);
    queue.shift();
    queue.clear();
    expect([queue.size, queue.weight]).to.deep.equal([0, 0]);
    expect(arraysOf(queue).items.filter((x) => x !== undefined)).to.deep.equal([]);
  });
});
