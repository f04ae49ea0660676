import type { Logger } from "pino";
import { Backoff } from "../lib/backoff";
import type { Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import { SerfProtocolError, SerfStallError, type SerfSource } from "../serf/serf-rpc";

/** Follows Serf's membership events (they only trigger passes) until `signal` aborts, reconnecting forever. */
export function watchSerf(
  serf: SerfSource,
  onEvent: (event: string) => void,
  clock: Clock,
  log: Logger,
  signal: AbortSignal,
): void {
  const backoff = new Backoff(500, 10_000);
  const loop = (): void => {
    if (signal.aborted) return;
    serf
      .stream((event) => {
        backoff.reset();
        onEvent(event);
      }, signal)
      .catch((err: unknown) => {
        const error = toError(err);
        if (error instanceof SerfStallError) log.warn({ err: error }, "serf event stream stalled, reconnecting");
        // An agent that breaks the protocol or a limit is worth knowing of; a closed stream is not.
        else if (error instanceof SerfProtocolError)
          log.warn({ err: error }, "serf event stream refused (protocol or limit), reconnecting");
        else log.debug({ err: error }, "serf event stream interrupted");
      })
      .finally(() => {
        if (!signal.aborted) clock.setTimeout(loop, backoff.next());
      });
  };
  loop();
}
