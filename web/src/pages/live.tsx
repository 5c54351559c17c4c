import { Empty, Page } from '../ui.tsx';

export default function Live() {
  return <Page title="Live jobs and scheduler"><Empty>Not built yet.</Empty></Page>;
}
