// The tests build their requests with the model's codec, like every other Modbus client here.
export { commandImage, commandPdu, writeMultipleRegistersPdu } from '../../agent/src/model/modbus-codec.ts';
