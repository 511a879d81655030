/** Settings of this device (the zone calendars are shown in) and of my account (CalDAV app passwords, export, deletion). */
import type { User } from '@kith/client';
import { AccountSection } from './account-section.js';
import { AppPasswords } from './app-passwords.js';
import { Modal } from './ui.js';
import { ZonePicker } from './zone-picker.js';
import { deviceZone, zoneCity } from './zones.js';

export function SettingsDialog(props: { user: User; displayZone: string; onDisplayZone: (zone: string) => void; onClose: () => void; onAccountDeleted: () => void }) {
  const here = deviceZone();
  return (
    <Modal title="Settings" onClose={props.onClose} id="settings-dialog" class="settings-dialog">
      <section aria-labelledby="zone-heading">
        <h3 id="zone-heading">Time zone</h3>
        <form onSubmit={(e) => e.preventDefault()}>
          <ZonePicker id="display-zone" label="Show times in" value={props.displayZone} onChange={(z) => z && props.onDisplayZone(z)} />
        </form>
        <p class="hint">
          {props.displayZone === here ? `This device’s zone (${zoneCity(here)}). ` : `This device is in ${zoneCity(here)}. `}
          Kept on this device only. Events keep their own zone: the form shows their time there and here.
          {props.displayZone !== here && (
            <>
              {' '}
              <button type="button" class="link" onClick={() => props.onDisplayZone(here)}>
                Use {zoneCity(here)}
              </button>
            </>
          )}
        </p>
      </section>
      <AppPasswords user={props.user} />
      <AccountSection user={props.user} onDeleted={props.onAccountDeleted} />
    </Modal>
  );
}
