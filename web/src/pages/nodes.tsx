import { Empty, Page } from '../ui.tsx';

export default function Nodes() {
  return <Page title="Nodes"><Empty>Not built yet.</Empty></Page>;
}
