import { Empty, Page } from '../ui.tsx';

export default function Timeline() {
  return <Page title="Timeline"><Empty>Not built yet.</Empty></Page>;
}
