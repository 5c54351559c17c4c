import { Empty, Page } from '../ui.tsx';

export default function Schedule() {
  return <Page title="Schedule"><Empty>Not built yet.</Empty></Page>;
}
