import { expect } from 'chai';
import { BoundedQueue, type Overflow } from '../../src/internal/BoundedQueue.js';

/** A queue of strings weighed by their length, with what it dropped. */
function queueOf(maxCount: number, maxWeight: number, overflow: Overflow) {
  const dropped: string[] = [];
  const queue = new BoundedQueue<string>(maxCount, maxWeight, overflow, (item) => dropped.push(item));
  const offer = (item: string): boolean => queue.offer(item, item.length);
  const drain = (): string[] => {
    const items: string[] = [];
    while (queue.size > 0) items.push(queue.shift());
    return items;
  };
  return { queue, dropped, offer, drain };
}

describe('BoundedQueue', () => {
  it('queues what fits within both bounds, to the item and to the byte', () => {
    const { queue, offer, drain } = queueOf(3, 6, 'error');
    expect([offer('ab'), offer('cd'), offer('ef')]).to.deep.equal([true, true, true]);
    expect([queue.size, queue.weight]).to.deep.equal([3, 6]);
    expect(queue.fits(0), 'the count bound').to.equal(false);
    expect(drain()).to.deep.equal(['ab', 'cd', 'ef']);
    expect(queue.fits(6)).to.equal(true);
    expect(queue.fits(7), 'the weight bound').to.equal(false);
  });

  it("'error': refuses what does not fit, changing nothing, and calls no onDrop", () => {
    const { queue, dropped, offer, drain } = queueOf(2, 5, 'error');
    offer('abc');
    expect(offer('def'), 'past the bytes').to.equal(false);
    expect([queue.size, queue.weight]).to.deep.equal([1, 3]);
    offer('d');
    expect(offer(''), 'past the count, even of weight 0').to.equal(false);
    expect(drain()).to.deep.equal(['abc', 'd']);
    expect(dropped).to.deep.equal([]);
  });

  it("'drop-oldest': drops the oldest, in order, until the new item fits", () => {
    const { queue, dropped, offer, drain } = queueOf(10, 6, 'drop-oldest');
    for (const item of ['a', 'bb', 'c', 'dd']) offer(item);
    expect(offer('eeee')).to.equal(true);
    expect(dropped).to.deep.equal(['a', 'bb', 'c']);
    expect([queue.size, queue.weight]).to.deep.equal([2, 6]);
    expect(drain()).to.deep.equal(['dd', 'eeee']);
  });

  it("'drop-oldest' by count, and an item heavier than the bound alone goes to onDrop after the rest", () => {
    const { dropped, offer, drain } = queueOf(2, 4, 'drop-oldest');
    offer('a');
    offer('b');
    offer('c');
    expect(dropped).to.deep.equal(['a']);
    expect(offer('fiver')).to.equal(true);
    expect(dropped).to.deep.equal(['a', 'b', 'c', 'fiver']);
    expect(drain()).to.deep.equal([]);
  });

  it("'drop-newest': keeps what waits and drops the new item", () => {
    const { dropped, offer, drain } = queueOf(2, 100, 'drop-newest');
    for (const item of ['a', 'b', 'c', 'd']) expect(offer(item)).to.equal(true);
    expect(dropped).to.deep.equal(['c', 'd']);
    expect(drain()).to.deep.equal(['a', 'b']);
  });

  it('a bound of 0 holds nothing: every item goes to onDrop', () => {
    const { queue, dropped, offer } = queueOf(0, 100, 'drop-oldest');
    offer('a');
    expect([queue.size, dropped]).to.deep.equal([0, ['a']]);
  });

  it('lets what onDrop throws through, the item it was handed already out of the queue', () => {
    const queue = new BoundedQueue<string>(1, 100, 'drop-oldest', (item) => {
      throw new Error(`no ${item}`);
    });
    queue.offer('a', 1);
    expect(() => queue.offer('b', 1)).to.throw('no a');
    expect(queue.size).to.equal(0);
  });

  it('sees what onDrop queued meanwhile: it drops until the new item fits', () => {
    const dropped: string[] = [];
    const queue: BoundedQueue<string> = new BoundedQueue<string>(2, 100, 'drop-oldest', (item) => {
      dropped.push(item);
      // Re-entrant, as an onDrop that sends again would be: it queues (or drops) once more.
      if (item === 'a') queue.offer('again', 1);
    });
    queue.offer('a', 1);
    queue.offer('b', 1);
    queue.offer('c', 1);
    // 'a' dropped, 'again' queued behind 'b': still full, so 'b' goes too.
    expect(dropped).to.deep.equal(['a', 'b']);
    const left: string[] = [];
    while (queue.size > 0) left.push(queue.shift());
    expect(left).to.deep.equal(['again', 'c']);
  });
});
