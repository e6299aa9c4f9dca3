// Internal to the kernel (not exported): a V8 hidden-class pin used by the server factory.
import { createHook } from 'node:async_hooks';

let pinned: object | undefined;

/**
 * Keeps one `process.nextTick` queue entry (node's internal TickObject) alive for the life of the
 * process, so the hidden class V8 gives those objects never dies.
 *
 * Why: a TickObject is built by an object literal with computed symbol keys inside node's
 * `nextTick`, and every one of them dies within a turn. When a full GC finds none alive, V8 drops
 * that hidden class and the next `nextTick` builds a fresh one. If `nextTick` is optimised while
 * its feedback still points at the dead class, TurboFan falls back to three runtime calls per
 * TickObject (one per property) — about 2.5 µs on every HTTP request here, since node's HTTP
 * stack schedules four or five ticks per request. Whether a process lands in that state depends on
 * GC timing (measured: Fastify with a custom 404 handler and two routes, 16.6 vs 13.6 µs per
 * request; see benchmarks/notes.md). One retained object makes the class immortal and the
 * optimised code monomorphic. Idempotent; costs one object.
 */
export function pinTickObjectShape(): void {
  if (pinned !== undefined) return;
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === 'TickObject' && pinned === undefined) pinned = resource;
    },
  });
  hook.enable();
  process.nextTick(noop);
  hook.disable();
}

function noop(): void {}
