import { render } from 'preact';
import { App } from './app';
import { interceptLinkClicks } from './router';
import './styles.css';

interceptLinkClicks();
render(<App />, document.getElementById('app') as HTMLElement);
