export declare const REPO: string;
/** The first source file whose build is missing or older than the source, or undefined when dist/ is current. */
export declare function staleBuild(repo?: string): string | undefined;
