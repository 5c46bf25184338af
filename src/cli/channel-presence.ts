/**
 * Does the relay know a channel? `tail --no-follow` and `sub --once` read what a channel holds
 * now; on a channel the relay knows nothing about (a wrong id, or a process whose channel was
 * collected) they must say so instead of printing nothing.
 *
 * The relay's Welcome says `created: true` when this receiver's connection created the channel.
 * A channel can also exist with nothing in it (another receiver is waiting on it), and a relay
 * may not send `created` at all, so what the relay sends right after the Welcome (all in the
 * same turn) decides too: no source online, no log history (`logNext` 0) and no state frame
 * within a short grace means unknown.
 */
import type { WelcomeInfo } from '../protocol/control.js';
import type { LinkTarget } from './relay-link.js';

/** What `channelPresence` reads from a view (today's StreamView has all of it). */
export interface PresenceView extends LinkTarget {
  readonly welcome: WelcomeInfo | undefined;
  readonly sourceOnline: boolean;
  readonly hasState: boolean;
}

export type Presence = 'known' | 'unknown';

/** Resolves once the view's first Welcome (and what follows it) tells whether the channel exists. */
export function channelPresence(view: PresenceView, graceMs = 250): Promise<Presence> {
  return new Promise((resolve) => {
    const offs: Array<() => void> = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const settle = (p: Presence) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      offs.forEach((off) => off());
      resolve(p);
    };
    const known = () => settle('known');
    const onWelcome = (w: WelcomeInfo) => {
      const created = (w as { created?: unknown }).created;
      if (created === true) return settle('unknown');
      if ((w.logNext ?? 0) > 0) return settle('known');
    };
    const check = () => {
      if (!view.welcome || settled) return;
      if (view.sourceOnline || view.hasState) return known();
      // The source-status frame came (or is coming) with the Welcome; a state frame, if the relay has one, right behind it.
      timer ??= setTimeout(() => settle(view.hasState || view.sourceOnline ? 'known' : 'unknown'), graceMs);
    };
    offs.push(target(view, 'welcome', onWelcome), target(view, 'change', known), target(view, 'log', known), target(view, 'status', check));
    // Called after the Welcome already arrived: decide from what the view holds now.
    if (view.welcome) {
      onWelcome(view.welcome);
      check();
    }
  });
}

function target(view: PresenceView, event: string, fn: (...args: never[]) => void): () => void {
  return view.on(event, fn as (...args: unknown[]) => void);
}
