/**
 * Errors a user can cause and fix (a config the simulator cannot run, an impossible
 * option), with stable codes (DESIGN.md, principle 7). The CLI prints their message
 * without a stack trace; anything else is a bug and keeps its stack.
 */

export type SimulatorErrorCode =
  | 'SIM_PLAIN_PASSWORD_REQUIRED'
  | 'SIM_UNKNOWN_ACCOUNT'
  | 'SIM_NO_COMMANDING_ACCOUNT'
  | 'SIM_DEVICE_COUNT'
  | 'SIM_INVALID_OPTION'
  | 'SIM_MODBUS_GATEWAY'
  | 'SIM_MODBUS_LISTEN'
  | 'SIM_SWAP';

export class SimulatorError extends Error {
  override readonly name = 'SimulatorError';

  constructor(readonly code: SimulatorErrorCode, message: string) {
    super(message);
  }
}
