// The Official and Verified badges of a Docker Hub repository.

export function Badges({ official, verified }: { official: boolean; verified: boolean }) {
  return (
    <>
      {official && (
        <span className="badge hub-badge official" data-testid="badge-official">
          Official
        </span>
      )}
      {verified && (
        <span className="badge hub-badge verified" data-testid="badge-verified">
          Verified
        </span>
      )}
    </>
  );
}
