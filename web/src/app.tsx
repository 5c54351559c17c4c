import { Component, lazy, Suspense, useEffect, useState, useSyncExternalStore, type MouseEvent, type ReactNode } from 'react';
import { get, setAccess } from './api.ts';
import { KeyButton, KeyPrompt } from './key.tsx';
import { useStreamState } from './live.ts';
import { OnAir } from './pages/onair.tsx';
import { StationContext, UNKNOWN_STATION, type Station } from './ui.tsx';

const BASE = '/ui/';

/** Every page: its path under /ui/, its name in the menu, and the page (each but On air loaded when first opened). */
const PAGES = [
  { path: '', name: 'On air', page: OnAir },
  { path: 'schedule', name: 'Schedule', page: lazy(() => import('./pages/schedule.tsx')) },
  { path: 'timeline', name: 'Timeline', page: lazy(() => import('./pages/timeline.tsx')) },
  { path: 'archive', name: 'Archive', page: lazy(() => import('./pages/archive.tsx')) },
  { path: 'tasks', name: 'Tasks', page: lazy(() => import('./pages/tasks.tsx')) },
  { path: 'live', name: 'Live jobs', page: lazy(() => import('./pages/live.tsx')) },
  { path: 'nodes', name: 'Nodes', page: lazy(() => import('./pages/nodes.tsx')) },
  { path: 'webhooks', name: 'Webhooks', page: lazy(() => import('./pages/webhooks.tsx')) },
];

const location = {
  subscribe(listener: () => void) {
    window.addEventListener('popstate', listener);
    return () => window.removeEventListener('popstate', listener);
  },
  path: () => window.location.pathname.slice(BASE.length).replace(/\/$/, ''),
};

/** Moves to another page of the app without loading the document again. */
function navigate(to: string): void {
  window.history.pushState(null, '', `${BASE}${to}`);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

function follow(event: MouseEvent<HTMLAnchorElement>, to: string): void {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(to);
}

const STREAM_WORDS = { connecting: 'Connecting…', live: 'Live', retrying: 'Reconnecting…', 'needs-key': 'Not live: API key needed' };

export function App() {
  const path = useSyncExternalStore(location.subscribe, location.path);
  const stream = useStreamState();
  const [station, setStation] = useState<Station>();
  useEffect(() => {
    const known = (answer: Station) => {
      setAccess(answer.access);
      setStation(answer);
    };
    get<Station>('/station').then(known, () => known(UNKNOWN_STATION));
  }, []);
  const current = PAGES.find((page) => page.path === path.split('/')[0]) ?? PAGES[0]!;
  useEffect(() => {
    document.title = `${current.name} · onair`;
  }, [current]);
  const Current = current.page;
  return (
    <StationContext.Provider value={station ?? UNKNOWN_STATION}>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <a className="brand" href={BASE} onClick={(event) => follow(event, '')}>onair</a>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((page) => (
              <li key={page.path}>
                <a href={`${BASE}${page.path}`} aria-current={page === current ? 'page' : undefined} onClick={(event) => follow(event, page.path)}>{page.name}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="status">
          <span className={`stream stream-${stream}`} role="status">{STREAM_WORDS[stream]}</span>
          {station && <span className="zone" title="The station's time zone (ONAIR_TIMEZONE)">{station.timezone}</span>}
          <KeyButton />
        </div>
      </header>
      <main id="main">
        {station === undefined ? null : (
          <PageFailed key={current.path}>
            <Suspense fallback={<p className="empty">Loading…</p>}>
              <Current />
            </Suspense>
          </PageFailed>
        )}
      </main>
      <KeyPrompt />
    </StationContext.Provider>
  );
}

/**
 * A page that failed (its code could not be loaded: onair restarted or was upgraded meanwhile, its files renamed) says so
 * in place of a blank app, and offers to load the app again.
 */
class PageFailed extends Component<{ children: ReactNode }, { failure: string | undefined }> {
  state = { failure: undefined };

  static getDerivedStateFromError(error: unknown) {
    return { failure: error instanceof Error ? error.message : String(error) };
  }

  render() {
    if (this.state.failure === undefined) return this.props.children;
    return (
      <section className="page" role="alert">
        <h1>This page could not be shown</h1>
        <p>onair may have restarted or been upgraded since this tab opened. ({this.state.failure})</p>
        <button type="button" className="primary" onClick={() => window.location.reload()}>Load the dashboard again</button>
      </section>
    );
  }
}
