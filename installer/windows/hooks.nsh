; Tauri NSIS installer hooks (src-tauri/tauri.windows.conf.json): register the Berth agent's
; vsock ports as Hyper-V socket services, which Windows requires before the host can connect to
; the WSL 2 VM on them (berth-core::wsl::hvsock; service id = port in hex + the vsock template).
; The installer runs per machine (elevated), as HKLM needs.
!define BERTH_HV_SERVICES "SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization\GuestCommunicationServices"

!macro NSIS_HOOK_POSTINSTALL
  WriteRegStr HKLM "${BERTH_HV_SERVICES}\00000400-facb-11e6-bd58-64006a7986d3" "ElementName" "Berth agent (vsock port 1024)"
  WriteRegStr HKLM "${BERTH_HV_SERVICES}\00000401-facb-11e6-bd58-64006a7986d3" "ElementName" "Berth agent (vsock port 1025)"
!macroend

; The WSL distribution (and so the engine's images and volumes) is kept: `wsl --unregister berth`
; deletes it, as installer/README.md says.
!macro NSIS_HOOK_POSTUNINSTALL
  DeleteRegKey HKLM "${BERTH_HV_SERVICES}\00000400-facb-11e6-bd58-64006a7986d3"
  DeleteRegKey HKLM "${BERTH_HV_SERVICES}\00000401-facb-11e6-bd58-64006a7986d3"
!macroend
