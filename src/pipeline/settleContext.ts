// What the parts of settling (writing, acknowledging, dead-lettering) share.
import type { Problems } from "../ops/problems.ts";
import type { Delivery, PipelineDeps, PipelineOptions } from "./contracts.ts";
import type { Ledger } from "./ledger.ts";

export interface SettleContext {
  readonly deps: PipelineDeps;
  readonly options: PipelineOptions;
  readonly ledger: Ledger;
  readonly deadline: AbortSignal;
  /** Deliveries in hand (being written or dead-lettered): the heartbeat keeps them invisible. */
  readonly writing: Set<Delivery>;
  /** Something the loops wait on changed (an ack finished, a lane freed up). */
  readonly notify: () => void;
  /** A write, delete or dead-letter attempt completed, however it ended: the loop is alive. */
  readonly progress: () => void;
  /** Each failure's log line and its count in errors_total, from one place. */
  readonly problems: Problems;
  /**
   * Resolves once no visibility extension is under way. A release waits for it: an extension
   * SQS applies after the release would hide the message again for a whole timeout.
   */
  readonly visibilityQuiet: () => Promise<void>;
}
