import { Empty, Page } from '../ui.tsx';

export default function Tasks() {
  return <Page title="Tasks"><Empty>Not built yet.</Empty></Page>;
}
