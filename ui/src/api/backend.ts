// The command surface of src-tauri: one method a command, named as the command, taking its
// arguments as Tauri receives them (camelCase keys for the Rust parameters, channels for the
// streams) and resolving to its result. It is generated from the commands' Rust signatures
// (../generated/commands.ts, by src-tauri/src/bindings/commands.rs), its types from the Rust
// types (../generated/bindings.ts). Two things implement it: the Tauri backend (tauri.ts)
// invokes the commands; the mock (mock.ts) answers them in memory for the browser tests. Both
// are type-checked against this one interface, so a parameter or result changed in Rust fails
// `tsc` in the mock and in the views that use it.
export type { Backend, Command, None } from "../generated/commands";
