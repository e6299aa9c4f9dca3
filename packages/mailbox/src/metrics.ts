import { Counter, Gauge } from 'prom-client';
import { FastCounter, HttpMetrics } from '@ron/kernel';
import type { TopicStats } from './mailbox-store.js';

export const TOPIC_EVENTS = [
  'enqueued',
  'delivered',
  'acked',
  'nacked',
  'redelivered',
  'dead_lettered',
] as const;
export type TopicEvent = (typeof TOPIC_EVENTS)[number];
/** The label of every topic past the cap. */
export const OTHER_TOPIC = '_other';

const GAUGES = [
  ['visible', 'mailbox_visible_messages', 'Messages ready to be received, by topic'],
  ['in_flight', 'mailbox_in_flight_messages', 'Messages leased to a consumer and not yet acked, by topic'],
  ['delayed', 'mailbox_delayed_messages', 'Messages nacked with a delay that are not visible yet, by topic'],
  ['dlq', 'mailbox_dlq_messages', 'Messages in the dead-letter queue, by topic'],
  [
    'oldest_age_s',
    'mailbox_oldest_message_age_seconds',
    'Age of the oldest message not yet acked (max over the label), by topic',
  ],
] as const;

export type TopicCounters = Record<TopicEvent, FastCounter>;

/**
 * Every svc-mailbox metric (SPEC §4.5.3), defined here. Per-topic series have bounded cardinality:
 * the first `topicCap` topics (existing ones at boot in name order, then in order of first use) get
 * their own `topic` label; every later topic is summed under `topic="_other"`.
 */
export class MailboxMetrics extends HttpMetrics {
  readonly #cap: number;
  readonly #labels = new Map<string, string>();
  readonly #counters = new Map<string, TopicCounters>();
  readonly #fast: FastCounter[] = [];
  readonly #events: Record<TopicEvent, Counter<'topic'>>;

  constructor(opts: {
    defaultCollectors?: boolean;
    topicCap: number;
    stats: () => ({ topic: string } & TopicStats)[];
    waiting: () => number;
  }) {
    super({
      requestsName: 'mailbox_http_requests_total',
      latencyName: 'mailbox_request_latency_seconds',
      rejectionsName: 'mailbox_rejections_total',
      defaultCollectors: opts.defaultCollectors ?? true,
    });
    this.#cap = opts.topicCap;
    const fast = this.#fast;
    const flush = (): void => {
      for (const c of fast) c.flush();
    };
    const ev = (e: TopicEvent): Counter<'topic'> =>
      new Counter({
        name: `mailbox_${e}_total`,
        help: `Messages ${e.replace('_', '-')} by topic (topics past the cap under "_other")`,
        labelNames: ['topic'],
        registers: [this.registry],
        collect: flush,
      });
    this.#events = Object.fromEntries(TOPIC_EVENTS.map((e) => [e, ev(e)])) as Record<
      TopicEvent,
      Counter<'topic'>
    >;
    const labelOf = (t: string): string => this.label(t);
    for (const [key, name, help] of GAUGES) {
      new Gauge({
        name,
        help,
        labelNames: ['topic'],
        registers: [this.registry],
        collect() {
          const sums = new Map<string, number>([[OTHER_TOPIC, 0]]);
          for (const s of opts.stats()) {
            const l = labelOf(s.topic);
            const v = s[key];
            sums.set(l, key === 'oldest_age_s' ? Math.max(sums.get(l) ?? 0, v) : (sums.get(l) ?? 0) + v);
          }
          this.reset();
          for (const [l, v] of sums) this.labels(l).set(v);
        },
      });
    }
    new Gauge({
      name: 'mailbox_waiting_receivers',
      help: 'Receivers parked in a long-poll wait (all topics)',
      registers: [this.registry],
      collect() {
        this.set(opts.waiting());
      },
    });
    this.counters(OTHER_TOPIC);
  }

  /** The metric label of a topic (its name while under the cap, else "_other"). */
  label(topic: string): string {
    let l = this.#labels.get(topic);
    if (l === undefined) {
      l = this.#labels.size < this.#cap ? topic : OTHER_TOPIC;
      this.#labels.set(topic, l);
    }
    return l;
  }

  /** The cached counters of a topic (prewarmed at 0 on first use). */
  counters(topic: string): TopicCounters {
    const l = topic === OTHER_TOPIC ? OTHER_TOPIC : this.label(topic);
    let c = this.#counters.get(l);
    if (c === undefined) {
      const made = {} as Record<TopicEvent, FastCounter>;
      for (const e of TOPIC_EVENTS) {
        const series = this.#events[e].labels(l);
        series.inc(0);
        const f = new FastCounter(series);
        this.#fast.push(f);
        made[e] = f;
      }
      c = made;
      this.#counters.set(l, c);
    }
    return c;
  }
}
